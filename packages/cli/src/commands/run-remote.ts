import { graphql, RegentClient } from "@regent/client";
import { type Config, FlowNotFoundError, InvalidUsageError } from "@regent/core";
import { paramsFromCli } from "../cli-params.js";
import { EXIT } from "../exit.js";
import { watchFlowRun } from "./watch.js";

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

export interface RunRemoteOptions {
  name: string;
  project: string;
  param: string[];
  paramsJson?: string;
  label: string[];
  /** The run's maximum duration, over the flow's timeout ("2h"). */
  timeout?: string;
  /** JSON: the run's run-config overrides, merged over the flow's by the server. */
  runConfig?: string;
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
  let runConfig: unknown;
  if (options.runConfig !== undefined) {
    try {
      runConfig = JSON.parse(options.runConfig);
    } catch (error) {
      throw new InvalidUsageError(`--run-config is not JSON: ${(error as Error).message}`);
    }
    if (runConfig === null || typeof runConfig !== "object" || Array.isArray(runConfig))
      throw new InvalidUsageError("--run-config is a JSON object, e.g. '{\"memory\": 4096}'");
  }
  const { create_flow_run } = await client.request(CreateRun, {
    input: {
      version_group_id: found.version_group_id,
      parameters,
      labels: options.label.length > 0 ? options.label : null,
      ...(options.timeout ? { timeout: options.timeout } : {}),
      ...(runConfig ? { run_config: runConfig } : {}),
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
  out(`created flow run ${create_flow_run.flow_run.name} (${id}); watching…`);
  return watchFlowRun(client, id, create_flow_run.flow_run.name);
}
