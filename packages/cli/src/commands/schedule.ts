import { graphql } from "@regent/client";
import {
  type Config,
  checkSchedule,
  FlowNotFoundError,
  InvalidUsageError,
  nextFireTimes,
} from "@regent/core";
import { client as apiClient, formatTable, print } from "./remote.js";

const NewestFlow = graphql(`
  query NewestFlow($name: String!, $project: String!) {
    flow(
      where: { name: { _eq: $name }, archived: { _eq: false }, project: { name: { _eq: $project } } }
      order_by: [{ version: desc }]
      limit: 1
    ) { id name version version_group_id schedule schedule_active }
  }
`);
const SetActive = graphql(`
  mutation SetScheduleActive($id: uuid!) { set_schedule_active(input: { flow_id: $id }) { success } }
`);
const SetInactive = graphql(`
  mutation SetScheduleInactive($id: uuid!) { set_schedule_inactive(input: { flow_id: $id }) { success } }
`);

/** The newest unarchived version of a flow, by name and project; a clear error when there is none. */
export async function newestFlow(client: ReturnType<typeof apiClient>, name: string, project: string) {
  const [flow] = (await client.request(NewestFlow, { name, project })).flow;
  if (!flow)
    throw new FlowNotFoundError(
      `no flow ${name} in project ${project} (see regent get flows --project ${project})`,
    );
  return flow;
}

export interface ScheduleOptions {
  readonly name: string;
  readonly project: string;
  readonly count?: string;
  readonly json?: boolean;
}

/**
 * `regent schedule show|pause|resume --name N --project P`: the schedule of a flow's newest version, its
 * next fire times, and turning it off and on (`set_schedule_inactive` / `set_schedule_active`).
 */
export async function schedule(config: Config, action: string, options: ScheduleOptions): Promise<number> {
  if (action !== "show" && action !== "pause" && action !== "resume")
    throw new InvalidUsageError(`regent schedule takes show, pause or resume, not "${action}"`);
  const client = apiClient(config);
  const flow = await newestFlow(client, options.name, options.project);
  if (!flow.schedule)
    throw new InvalidUsageError(
      `flow ${flow.name} has no schedule: give it one with flow({ schedule: cron(…) }) and register it again`,
    );
  const out = (value: unknown, text: string) => print(options.json ?? false, value, () => text);
  if (action !== "show") {
    const active = action === "resume";
    if (active) await client.request(SetActive, { id: flow.id });
    else await client.request(SetInactive, { id: flow.id });
    out(
      { flow_id: flow.id, name: flow.name, version: flow.version, schedule_active: active },
      `schedule of ${flow.name} (version ${flow.version}) ${active ? "resumed" : "paused"}\n`,
    );
    return 0;
  }
  const count = options.count === undefined ? 5 : Number(options.count);
  if (!Number.isInteger(count) || count < 1 || count > 100)
    throw new InvalidUsageError(`--count takes a whole number from 1 to 100, not "${options.count}"`);
  const checked = await checkSchedule(flow.schedule);
  const fires = await nextFireTimes(checked, new Date(), count);
  out(
    {
      flow_id: flow.id,
      name: flow.name,
      version: flow.version,
      schedule_active: flow.schedule_active,
      schedule: checked,
      next: fires.map((f) => ({ at: f.at.toISOString(), clock: f.clock, parameters: f.parameters })),
    },
    `${flow.name} (version ${flow.version}): schedule ${flow.schedule_active ? "active" : "paused"}\n\n` +
      formatTable(
        ["next", "clock", "parameters"],
        fires.map((f) => [
          f.at.toISOString(),
          `${f.clock + 1} (${checked.clocks[f.clock]!.type})`,
          Object.keys(f.parameters).length ? JSON.stringify(f.parameters) : "",
        ]),
      ),
  );
  return 0;
}
