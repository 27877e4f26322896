import { graphql } from "@regent/client";
import { type Config, InvalidUsageError, NotFoundError } from "@regent/core";
import { client as apiClient, formatTable, print } from "./remote.js";
import { newestFlow } from "./schedule.js";

const Rules = graphql(`
  query NotificationRules {
    notification_rule(order_by: [{ name: asc }]) { id name kind target states project { name } flow_group_id }
  }
`);
const ProjectId = graphql(
  `query ProjectId($name: String!) { project(where: { name: { _eq: $name } }) { id } }`,
);
const CreateRule = graphql(`
  mutation CreateNotificationRule($input: create_notification_rule_input!) { create_notification_rule(input: $input) { id } }
`);
const DeleteRule = graphql(`
  mutation DeleteNotificationRule($id: uuid!) { delete_notification_rule(input: { id: $id }) { success } }
`);

export interface NotificationOptions {
  readonly on?: string[];
  readonly webhook?: string;
  readonly secret?: string;
  readonly slack?: string;
  readonly email?: string;
  readonly project?: string;
  readonly flow?: string;
  readonly json?: boolean;
}

/**
 * `regent notification create NAME --on STATE… (--webhook URL [--secret S] | --slack URL | --email ADDR)
 * [--project P [--flow F]]`, `regent notification list`, `regent notification delete NAME`.
 */
export async function notification(
  config: Config,
  action: string,
  name: string | undefined,
  options: NotificationOptions,
): Promise<number> {
  const client = apiClient(config);
  const json = options.json ?? false;
  if (action === "list") {
    const { notification_rule: rules } = await client.request(Rules, {});
    print(json, rules, () =>
      rules.length === 0
        ? "no notification rules (add one with: regent notification create NAME --on Failed --webhook URL)\n"
        : formatTable(
            ["name", "kind", "target", "states", "project", "flow"],
            rules.map((r) => [
              r.name,
              r.kind,
              r.target,
              (r.states as string[]).join(","),
              r.project?.name ?? "all",
              r.flow_group_id ? "one" : "all",
            ]),
          ),
    );
    return 0;
  }
  if (!name) throw new InvalidUsageError(`regent notification ${action} needs the rule's name`);
  if (action === "delete") {
    const { notification_rule: rules } = await client.request(Rules, {});
    const rule = rules.find((r) => r.name === name);
    if (!rule)
      throw new NotFoundError(
        "NOTIFICATION_RULE_NOT_FOUND",
        `no notification rule named "${name}" (see regent notification list)`,
      );
    await client.request(DeleteRule, { id: rule.id });
    print(json, { name, deleted: true }, () => `notification rule ${name} deleted\n`);
    return 0;
  }
  if (action !== "create")
    throw new InvalidUsageError(`regent notification takes create, list or delete, not "${action}"`);
  const targets = (["webhook", "slack", "email"] as const).filter((k) => options[k]);
  if (targets.length !== 1)
    throw new InvalidUsageError("give one of --webhook URL, --slack URL or --email ADDRESS");
  const kind = targets[0]!;
  if (!options.on?.length)
    throw new InvalidUsageError("say which states notify with --on, e.g. --on Failed --on TimedOut");
  if (options.flow && !options.project)
    throw new InvalidUsageError("--flow goes with --project (the flow's project)");
  let projectId: string | undefined;
  if (options.project) {
    const [project] = (await client.request(ProjectId, { name: options.project })).project;
    if (!project) throw new NotFoundError("PROJECT_NOT_FOUND", `no project named "${options.project}"`);
    projectId = project.id;
  }
  const flowGroupId = options.flow
    ? (await newestFlow(client, options.flow, options.project!)).version_group_id
    : undefined;
  const { create_notification_rule: created } = await client.request(CreateRule, {
    input: {
      name,
      kind,
      target: options[kind]!,
      states: options.on as never,
      ...(options.secret ? { secret: options.secret } : {}),
      ...(projectId ? { project_id: projectId } : {}),
      ...(flowGroupId ? { flow_group_id: flowGroupId } : {}),
    },
  });
  print(
    json,
    { id: created.id, name, kind, target: options[kind], states: options.on },
    () =>
      `notification rule ${name}: ${options.on!.join(", ")} of ${options.flow ? `flow ${options.flow}` : options.project ? `project ${options.project}` : "every flow"} → ${kind} ${options[kind]}\n`,
  );
  return 0;
}
