import { tmpdir } from "node:os";
import { join } from "node:path";
import { graphql, RegentClient } from "@regent/client";
import { type Config, InvalidUsageError, RegentError, serializeError } from "@regent/core";
import { isFlow, serverReporter } from "@regent/sdk";
import { loadBundle, localFolderStore } from "@regent/storage";

const SDK_URL = import.meta.resolve("@regent/sdk");

const LoadRun = graphql(`
  query LoadRun($id: uuid!) {
    flow_run_by_pk(id: $id) { id name parameters state version flow { name storage } }
  }
`);
const Bundle = graphql(`
  query Bundle($hash: String!) { flow_bundle(hash: $hash) { code } }
`);
const FailRun = graphql(`
  mutation FailRun($id: uuid!, $version: Int!, $message: String!, $data: jsonb) {
    set_flow_run_states(input: { states: [{ flow_run_id: $id, version: $version, state: { type: Failed, message: $message, data: $data } }] }) {
      states { status message }
    }
  }
`);
const Heartbeat = graphql(`
  mutation Heartbeat($id: uuid!) { flow_run_heartbeat(input: { flow_run_id: $id }) { success } }
`);

interface StoredFlow {
  type?: string;
  path?: string;
  bundle?: { hash?: string; ref?: string };
}

/**
 * `regent execute flow-run`: what an agent launches for a run (`REGENT__FLOW_RUN_ID`, `REGENT__API` in the
 * environment). Loads the run, fetches its bundle from storage, runs the flow with the SDK engine and
 * reports every state and log line in batches; heartbeats while it runs. A run that cannot start (bundle
 * missing, parameters invalid) ends Failed with the reason instead of staying stuck.
 */
export async function executeFlowRun(
  config: Config,
  options: { heartbeatMs?: number } = {},
): Promise<number> {
  const flowRunId = process.env.REGENT__FLOW_RUN_ID;
  if (!flowRunId)
    throw new InvalidUsageError(
      "regent execute flow-run needs REGENT__FLOW_RUN_ID in its environment (agents set it)",
    );
  const client = new RegentClient({ apiUrl: config.api, apiKey: config.api_key });
  const { flow_run_by_pk: run } = await client.request(LoadRun, { id: flowRunId });
  if (!run) throw new RegentError("FLOW_RUN_NOT_FOUND", `no flow run with id ${flowRunId} at ${client.url}`);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const failBeforeStart = async (message: string, error?: unknown) => {
    log(`flow run ${run.name}: ${message}`);
    await client.request(FailRun, {
      id: run.id,
      version: run.version,
      message,
      data: error ? { error: serializeError(error, "FLOW_LOAD_FAILED") } : null,
    });
    return 1;
  };

  const storage = (run.flow?.storage ?? {}) as StoredFlow;
  const hash = storage.bundle?.hash;
  if (!hash)
    return failBeforeStart(`flow ${run.flow?.name} has no bundle in its storage record; register it again`);
  let code: string | undefined;
  try {
    if (storage.type === "local" && storage.path) {
      code = await localFolderStore({ dir: storage.path }).get({
        kind: "local",
        ref: storage.bundle?.ref ?? "",
        hash,
      });
    } else {
      code = (await client.request(Bundle, { hash })).flow_bundle?.code;
    }
  } catch (error) {
    return failBeforeStart(
      `the flow's bundle ${hash} could not be read from ${storage.type ?? "database"} storage: ${(error as Error).message}`,
      error,
    );
  }
  if (code === undefined)
    return failBeforeStart(`the flow's bundle ${hash} is missing from ${storage.type ?? "database"} storage`);

  let flow: unknown;
  try {
    const mod = await loadBundle(code, {
      dir: join(tmpdir(), `regent-${process.getuid?.() ?? "user"}`, "runs"),
      sdkUrl: SDK_URL,
    });
    flow = (mod as { default?: unknown }).default;
  } catch (error) {
    return failBeforeStart(`the flow's code failed while loading: ${(error as Error).message}`, error);
  }
  if (!isFlow(flow)) return failBeforeStart("the flow's bundle has no flow as its default export");

  const reporter = serverReporter({
    client,
    flowRunId: run.id,
    flowRunVersion: run.version,
    onWarning: (w) => log(`warning: ${w}`),
  });
  const heartbeat = setInterval(() => {
    client
      .request(Heartbeat, { id: run.id })
      .catch((e: Error) => log(`warning: heartbeat failed: ${e.message}`));
  }, options.heartbeatMs ?? 10_000);
  heartbeat.unref();
  try {
    const result = await flow.run((run.parameters ?? {}) as never, {
      reporter,
      flowRunId: run.id,
      flowRunName: run.name,
    });
    log(
      `flow run ${run.name} finished ${result.state.type}${result.state.message ? `: ${result.state.message}` : ""}`,
    );
    return result.state.type === "Success" ? 0 : 1;
  } catch (error) {
    // Parameters that no longer validate (the flow's own validator is stricter than its JSON Schema).
    return failBeforeStart((error as Error).message, error);
  } finally {
    clearInterval(heartbeat);
  }
}
