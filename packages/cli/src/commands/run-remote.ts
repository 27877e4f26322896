import { graphql, RegentClient } from "@regent/client";
import { type Config, FlowNotFoundError, isFinal, type RunStateType } from "@regent/core";
import { paramsFromCli } from "../cli-params.js";
import { EXIT } from "../exit.js";
import { STATE_STYLE, stylerFor } from "../style.js";

const FindFlow = graphql(`
  query FindFlow($name: String!, $project: String!) {
    flow(where: { name: { _eq: $name }, archived: { _eq: false }, project: { name: { _eq: $project } } }, order_by: [{ version: desc }], limit: 1) {
      id version version_group_id parameters_schema
    }
  }
`);
const CreateRun = graphql(`
  mutation CreateRun($input: create_flow_run_input!) { create_flow_run(input: $input) { id flow_run { name } } }
`);
const RunState = graphql(`
  query RunState($id: uuid!) { flow_run_by_pk(id: $id) { state state_message } }
`);
const States = graphql(`
  subscription States($id: uuid!) { flow_run_states(flow_run_id: $id) { kind state message task_run_id } }
`);
const Logs = graphql(`
  subscription Logs($id: uuid!) { flow_run_logs(flow_run_id: $id) { level message timestamp } }
`);

export interface RunRemoteOptions {
  name: string;
  project: string;
  param: string[];
  paramsJson?: string;
  label: string[];
  watch?: boolean;
  json?: boolean;
}

/** `regent run --name N --project P`: creates a run on the server; `--watch` follows it to its end. */
export async function runRemote(config: Config, options: RunRemoteOptions): Promise<number> {
  const client = new RegentClient({ apiUrl: config.api, apiKey: config.api_key });
  const { flow } = await client.request(FindFlow, { name: options.name, project: options.project });
  const found = flow[0];
  if (!found) {
    throw new FlowNotFoundError(
      `no flow "${options.name}" in project "${options.project}"; register it with: regent register <file> --project ${options.project}`,
    );
  }
  const parameters = paramsFromCli(
    options.param,
    options.paramsJson,
    (found.parameters_schema ?? undefined) as never,
  );
  const { create_flow_run } = await client.request(CreateRun, {
    input: {
      version_group_id: found.version_group_id,
      parameters,
      labels: options.label.length > 0 ? options.label : null,
    },
  });
  const id = create_flow_run.id;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (!options.watch) {
    if (options.json) out(JSON.stringify({ id, name: create_flow_run.flow_run.name }));
    else
      out(
        `created flow run ${create_flow_run.flow_run.name} (${id}); follow it with: regent get logs --flow-run-id ${id}`,
      );
    return EXIT.ok;
  }
  const paint = stylerFor(process.stdout);
  out(`created flow run ${create_flow_run.flow_run.name} (${id}); watching…`);
  const stop = new AbortController();
  let final: { state: string; message: string | null } | undefined;
  const finish = (state: string, message: string | null) => {
    if (final) return;
    final = { state, message };
    // Log lines written just before the final state may still be on their way.
    setTimeout(() => stop.abort(), 300).unref();
  };
  const logs = (async () => {
    for await (const { flow_run_logs: l } of client.subscribe(Logs, { id }, { signal: stop.signal })) {
      out(`${l.timestamp.slice(11, 23)} ${l.level.toUpperCase().padEnd(5)} ${l.message}`);
    }
  })();
  const states = (async () => {
    for await (const { flow_run_states: s } of client.subscribe(States, { id }, { signal: stop.signal })) {
      if (s.kind !== "flow_run_state") continue;
      out(
        `${paint("gray", "state")} ${paint(STATE_STYLE[s.state] ?? "white", s.state)}${s.message ? `: ${s.message}` : ""}`,
      );
      if (isFinal(s.state as RunStateType)) finish(s.state, s.message);
    }
  })();
  // A run that finished before the subscriptions opened is caught here.
  await new Promise((r) => setTimeout(r, 200));
  const now = (await client.request(RunState, { id })).flow_run_by_pk;
  if (now && isFinal(now.state as RunStateType)) finish(now.state, now.state_message);
  await Promise.all([logs, states]);
  const state = final?.state ?? "unknown";
  out(`flow run ${create_flow_run.flow_run.name} finished ${paint(STATE_STYLE[state] ?? "white", state)}`);
  return state === "Success" ? EXIT.ok : EXIT.failed;
}
