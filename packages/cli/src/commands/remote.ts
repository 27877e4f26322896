import { graphql, RegentClient } from "@regent/client";
import { type Config, InvalidUsageError } from "@regent/core";

/** A client of the API the config names. */
export const client = (config: Config) => new RegentClient({ apiUrl: config.api, apiKey: config.api_key });

/** JSON when asked for, else the text `table()` makes. */
export const print = (json: boolean, value: unknown, table: () => string) =>
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : table());

/** Plain text columns, widths from the content. */
export function formatTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? "" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...text.map(line)].join("\n")}\n`;
}

const CreateProject = graphql(`
  mutation CreateProject($name: String!, $description: String) {
    create_project(input: { name: $name, description: $description }) { id project { name } }
  }
`);

export async function projectCreate(
  config: Config,
  name: string,
  options: { description?: string; json?: boolean },
) {
  const data = await client(config).request(CreateProject, {
    name,
    description: options.description ?? null,
  });
  print(
    options.json ?? false,
    data.create_project,
    () => `created project ${name} (${data.create_project.id})\n`,
  );
  return 0;
}

const Projects = graphql(`
  query Projects($limit: Int) {
    project(order_by: [{ name: asc }], limit: $limit) { id name description created }
  }
`);

const Flows = graphql(`
  query Flows($where: flow_bool_exp, $limit: Int) {
    flow(where: $where, order_by: [{ name: asc }, { version: desc }], limit: $limit) {
      id name version archived labels version_group_id project { name } created
    }
  }
`);

const FlowRuns = graphql(`
  query FlowRuns($where: flow_run_bool_exp, $limit: Int) {
    flow_run(where: $where, order_by: [{ created: desc }], limit: $limit) {
      id name state state_message labels scheduled_start_time start_time end_time flow { name version }
    }
  }
`);

const Logs = graphql(`
  query Logs($flowRunId: uuid!, $limit: Int) {
    log(where: { flow_run_id: { _eq: $flowRunId } }, order_by: [{ seq: asc }], limit: $limit) {
      timestamp level message task_run { task_key map_index }
    }
  }
`);

export type GetWhat = "projects" | "flows" | "flow-runs" | "logs";

export async function get(
  config: Config,
  what: string,
  options: { json?: boolean; project?: string; flowRunId?: string; limit?: string },
): Promise<number> {
  const limit = options.limit === undefined ? 100 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new InvalidUsageError(`--limit must be a whole number ≥ 1 (got ${options.limit})`);
  const json = options.json ?? false;
  const api = client(config);
  switch (what) {
    case "projects": {
      const { project } = await api.request(Projects, { limit });
      print(json, project, () =>
        formatTable(
          ["NAME", "ID", "DESCRIPTION", "CREATED"],
          project.map((p) => [p.name, p.id, p.description, p.created]),
        ),
      );
      return 0;
    }
    case "flows": {
      const where = options.project ? { project: { name: { _eq: options.project } } } : {};
      const { flow } = await api.request(Flows, { where, limit });
      print(json, flow, () =>
        formatTable(
          ["NAME", "VERSION", "PROJECT", "ARCHIVED", "LABELS", "ID"],
          flow.map((f) => [
            f.name,
            f.version,
            f.project?.name,
            f.archived,
            (f.labels as string[]).join(","),
            f.id,
          ]),
        ),
      );
      return 0;
    }
    case "flow-runs": {
      const where = options.project ? { flow: { project: { name: { _eq: options.project } } } } : {};
      const { flow_run } = await api.request(FlowRuns, { where, limit });
      print(json, flow_run, () =>
        formatTable(
          ["NAME", "FLOW", "STATE", "START", "END", "ID"],
          flow_run.map((r) => [
            r.name,
            `${r.flow?.name ?? ""} v${r.flow?.version ?? ""}`,
            r.state,
            r.start_time,
            r.end_time,
            r.id,
          ]),
        ),
      );
      return 0;
    }
    case "logs": {
      if (!options.flowRunId) throw new InvalidUsageError("regent get logs needs --flow-run-id ID");
      const { log } = await api.request(Logs, { flowRunId: options.flowRunId, limit });
      print(json, log, () =>
        log
          .map((l) => {
            const who = l.task_run
              ? l.task_run.map_index >= 0
                ? `${l.task_run.task_key}[${l.task_run.map_index}]`
                : l.task_run.task_key
              : "flow";
            return `${l.timestamp} ${l.level.toUpperCase().padEnd(5)} ${who} │ ${l.message}\n`;
          })
          .join(""),
      );
      return 0;
    }
    default:
      throw new InvalidUsageError(`regent get takes projects, flows, flow-runs or logs (got "${what}")`);
  }
}
