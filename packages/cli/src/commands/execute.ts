import { tmpdir } from "node:os";
import { join } from "node:path";
import { graphql, RegentClient } from "@regent/client";
import {
  type Config,
  ExecutorAssignmentSchema,
  InvalidUsageError,
  isFinal,
  LocalRunConfigSchema,
  needsFreshProcess,
  type ParamsSchema,
  RegentError,
  RUN_TOKEN_PREFIX,
  type RunStateType,
  S3StorageSchema,
  serializeError,
} from "@regent/core";
import {
  type ClusterTaskRunner,
  type Flow,
  isFlow,
  maskRevealed,
  type PriorTaskRun,
  serverReporter,
  serverTaskAdmission,
} from "@regent/sdk";
import { loadBundleByHash, loadImageBundle, localFolderStore, s3Store } from "@regent/storage";
import { REGENT_BIN } from "../bin-path.js";
import { watchRun } from "./run-watch.js";

const SDK_URL = import.meta.resolve("@regent/sdk");

const LoadRun = graphql(`
  query LoadRun($id: uuid!) {
    flow_run_by_pk(id: $id) { id name parameters scheduled_start_time state version restart_count timeout_ms run_config flow { id version_group_id name storage run_config } }
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
const Warm = graphql(`
  query Warm { __typename }
`);
const PreloadFlow = graphql(`
  query PreloadFlow($id: uuid!) { flow_by_pk(id: $id) { storage run_config } }
`);
const PriorTaskRuns = graphql(`
  query PriorTaskRuns($id: uuid!, $after: uuid!, $limit: Int!) {
    task_run(
      where: { flow_run_id: { _eq: $id }, id: { _gt: $after }, run_key: { _is_null: false } }
      order_by: [{ id: asc }]
      limit: $limit
    ) { id run_key state state_version result result_ref }
  }
`);

export interface StoredFlow {
  type?: string;
  /** Docker storage: the image the flow was pushed as. */
  image?: string;
  path?: string;
  bundle?: { hash?: string; ref?: string };
}

/** Where bundles are written to be imported; one that is there already is not fetched again. */
const BUNDLE_DIR = {
  dir: join(tmpdir(), `regent-${process.getuid?.() ?? "user"}`, "runs"),
  sdkUrl: SDK_URL,
};

/** Reads a flow's bundle from the storage its record names. */
function bundleFetcher(client: RegentClient, storage: StoredFlow): () => Promise<string | undefined> {
  const hash = storage.bundle?.hash ?? "";
  return async () => {
    if (storage.type === "local" && storage.path)
      return localFolderStore({ dir: storage.path }).get({
        kind: "local",
        ref: storage.bundle?.ref ?? "",
        hash,
      });
    if (storage.type === "s3") {
      const { bundle: _bundle, image: _image, ...described } = storage;
      return s3Store({ storage: S3StorageSchema.parse(described) }).get({
        kind: "s3",
        ref: storage.bundle?.ref ?? "",
        hash,
      });
    }
    return (await client.request(Bundle, { hash })).flow_bundle?.code;
  };
}

export interface ExecuteOptions {
  /**
   * Start before a run is assigned: get ready (code loaded, a connection to the API open), then read
   * the run from standard input as one JSON line (core's ExecutorAssignmentSchema). What agents'
   * pools of pre-started executors run.
   */
  readonly stdin?: boolean;
  /**
   * With `stdin`: the flow version whose code to load while waiting (the agent expects a run of it);
   * a run of that version then starts without loading it. Best effort: the run reports any problem.
   */
  readonly preload?: string | undefined;
}

/**
 * `regent execute flow-run`: what an agent launches for a run (`REGENT__FLOW_RUN_ID`, `REGENT__API` in the
 * environment, or the run on standard input with `--stdin`). Loads the run, fetches its bundle from
 * storage, runs the flow with the SDK engine and reports every state and log line in batches; heartbeats
 * while it runs, and stops the run when it is cancelled. A run that cannot start (bundle missing, parameters invalid) ends Failed with the reason
 * instead of staying stuck.
 */
export async function executeFlowRun(config: Config, options: ExecuteOptions = {}): Promise<number> {
  if (!options.stdin) {
    const client = new RegentClient({ apiUrl: config.api, apiKey: config.api_key });
    const flowRunId = process.env.REGENT__FLOW_RUN_ID;
    if (!flowRunId)
      throw new InvalidUsageError(
        "regent execute flow-run needs REGENT__FLOW_RUN_ID in its environment (agents set it), or --stdin",
      );
    return executeRun(client, { apiUrl: config.api, apiKey: config.api_key, config }, flowRunId);
  }
  // The agent's pre-started executors hold no key while they wait (on a server that asks for keys they are
  // not told to preload); the run's own token comes with the run.
  const waitingClient = new RegentClient({ apiUrl: config.api, apiKey: config.api_key });
  // Opening the connection (and loading the expected flow's code) now saves that work once a run
  // arrives; a server that is not up yet is no reason to stop waiting.
  const warm = (async () => {
    await waitingClient.request(Warm, {});
    if (options.preload) await preload(waitingClient, options.preload);
  })().catch(() => undefined);
  const line = await firstLine(process.stdin);
  await warm;
  if (line === undefined) return 0; // the agent let this executor go without a run
  let assignment: ReturnType<typeof ExecutorAssignmentSchema.parse>;
  try {
    assignment = ExecutorAssignmentSchema.parse(JSON.parse(line));
  } catch (error) {
    throw new InvalidUsageError(
      `regent execute flow-run --stdin: expected a JSON assignment {"flow_run_id": …}: ${(error as Error).message}`,
    );
  }
  process.env.REGENT__FLOW_RUN_ID = assignment.flow_run_id;
  // As in a process started for the run: its token is its key (flow code may call the API with it).
  if (assignment.api_key) process.env.REGENT__API_KEY = assignment.api_key;
  // Everything done for the run is done with its own token.
  const client = new RegentClient({ apiUrl: config.api, apiKey: assignment.api_key ?? config.api_key });
  const access = { apiUrl: config.api, apiKey: assignment.api_key ?? config.api_key, config };
  return executeRun(client, access, assignment.flow_run_id, () => {
    // As a process started for the run would have them: the run config's environment and folder.
    Object.assign(process.env, assignment.env);
    if (assignment.working_dir) process.chdir(assignment.working_dir);
  });
}

/**
 * Loads a flow version's code ahead of its run, in the environment and folder of the flow's run config
 * (what its module sees at import, as in a process started for the run). The agent gives such an
 * executor only runs that add no env or folder of their own. Skipped when that config could not be
 * taken on here (variables read at start-up, a missing folder, not a local config).
 */
async function preload(client: RegentClient, flowId: string): Promise<void> {
  const { flow_by_pk } = await client.request(PreloadFlow, { id: flowId });
  const storage = (flow_by_pk?.storage ?? {}) as StoredFlow;
  const config = LocalRunConfigSchema.safeParse({ type: "local", ...(flow_by_pk?.run_config ?? {}) });
  if (!storage.bundle?.hash || !config.success || storage.type === "docker") return;
  const env = config.data.env ?? {};
  if (needsFreshProcess(env)) return;
  const dir = config.data.workingDir;
  if (dir) {
    try {
      process.chdir(dir);
    } catch {
      return;
    }
  }
  Object.assign(process.env, env);
  await loadBundleByHash(storage.bundle.hash, bundleFetcher(client, storage), BUNDLE_DIR);
}

/** Every task run of an earlier execution of the flow run, read in pages. */
async function priorTaskRuns(client: RegentClient, flowRunId: string): Promise<PriorTaskRun[]> {
  const found: PriorTaskRun[] = [];
  const limit = 10_000;
  for (let after = "00000000-0000-0000-0000-000000000000"; ; ) {
    const { task_run: page } = await client.request(PriorTaskRuns, { id: flowRunId, after, limit });
    for (const t of page)
      found.push({
        id: t.id,
        runKey: t.run_key!,
        state: t.state as PriorTaskRun["state"],
        version: t.state_version,
        result: t.result as PriorTaskRun["result"],
        resultRef: t.result_ref,
      });
    if (page.length < limit) return found;
    after = page[page.length - 1]!.id;
  }
}

/** The first line of a stream (without its newline), or undefined when it ends before one. */
function firstLine(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let text = "";
    const done = (value: string | undefined) => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", reject);
      stream.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      const end = text.indexOf("\n");
      if (end >= 0) done(text.slice(0, end));
    };
    const onEnd = () => done(text.trim() ? text : undefined);
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", reject);
  });
}

/**
 * The flow a run executes, loaded from its storage (the bundle fetched once per machine and kept), or
 * what stops it loading, in words for the run's Failed state.
 */
export async function flowOfRun(
  client: RegentClient,
  flowName: string | undefined,
  storage: StoredFlow,
): Promise<
  | { readonly flow: Flow<ParamsSchema | undefined, unknown> }
  | { readonly problem: string; readonly error?: unknown }
> {
  const hash = storage.bundle?.hash;
  if (!hash) return { problem: `flow ${flowName} has no bundle in its storage record; register it again` };
  const where =
    storage.type === "docker" ? `the image ${storage.image}` : `${storage.type ?? "database"} storage`;
  let readError: unknown;
  const fetchBundle = bundleFetcher(client, storage);
  const fetchCode = async (): Promise<string | undefined> => {
    try {
      return await fetchBundle();
    } catch (error) {
      readError = error;
      throw error;
    }
  };
  let flow: unknown;
  try {
    const mod =
      storage.type === "docker"
        ? await loadImageBundle(hash)
        : await loadBundleByHash(hash, fetchCode, BUNDLE_DIR);
    if (!mod)
      return {
        problem:
          storage.type === "docker"
            ? `the flow's bundle ${hash} is not in this container: flow ${flowName} has Docker storage, so it runs in its image ${storage.image}; give it a label only Docker agents have`
            : `the flow's bundle ${hash} is missing from ${where}`,
      };
    flow = mod.default;
  } catch (error) {
    if (readError !== undefined)
      return {
        problem: `the flow's bundle ${hash} could not be read from ${where}: ${(error as Error).message}`,
        error,
      };
    return { problem: `the flow's code failed while loading: ${(error as Error).message}`, error };
  }
  if (!isFlow(flow)) return { problem: "the flow's bundle has no flow as its default export" };
  return { flow };
}

/**
 * The API as this executor reaches it, the key it uses there (the run's token), and its config: what
 * its cluster workers are started with.
 */
interface ApiAccess {
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly config: Config;
}

async function executeRun(
  client: RegentClient,
  access: ApiAccess,
  flowRunId: string,
  prepare?: () => void,
): Promise<number> {
  const { flow_run_by_pk: run } = await client.request(LoadRun, { id: flowRunId });
  if (!run) throw new RegentError("FLOW_RUN_NOT_FOUND", `no flow run with id ${flowRunId} at ${client.url}`);
  // What the agent shows of this process's output: secrets the run read are masked there too.
  const log = (line: string) => process.stderr.write(`${maskRevealed(line)}\n`);

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

  // Cancelled (or ended otherwise) between its claim and this start: nothing is left to run.
  if (isFinal(run.state as RunStateType) || run.state === "Cancelling") {
    log(`flow run ${run.name} is ${run.state}; nothing to run`);
    return 0;
  }
  const storage = (run.flow?.storage ?? {}) as StoredFlow;
  const hash = storage.bundle?.hash;
  if (!hash)
    return failBeforeStart(`flow ${run.flow?.name} has no bundle in its storage record; register it again`);
  if (prepare) {
    try {
      prepare();
    } catch (error) {
      return failBeforeStart(`the run's environment could not be set up: ${(error as Error).message}`, error);
    }
  }
  const loaded = await flowOfRun(client, run.flow?.name, storage);
  if ("problem" in loaded) return failBeforeStart(loaded.problem, loaded.error);
  const { flow } = loaded;

  // A restarted or resumed run goes on from its earlier execution's task runs.
  const previous = run.restart_count > 0 ? await priorTaskRuns(client, run.id) : [];
  const reporter = serverReporter({
    client,
    flowRunId: run.id,
    flowRunVersion: run.version,
    execution: run.restart_count,
    onWarning: (w) => log(`warning: ${w}`),
    knownTaskRuns: new Map(previous.map((p) => [p.id, p.version])),
  });
  // The launchers (and Docker's client) are loaded only for flows that fan out to cluster workers.
  const runner = flow.options.taskRunner as ClusterTaskRunner | undefined;
  const { ecsConfigDefaults } = runner?.kind === "cluster" ? await import("./agent-ecs.js") : {};
  const workers =
    runner?.kind === "cluster"
      ? await (await import("@regent/agent")).clusterWorkerLaunchers({
          run: {
            id: run.id,
            name: run.name,
            flowId: run.flow?.id ?? "",
            flowVersionGroupId: run.flow?.version_group_id ?? undefined,
            restartCount: run.restart_count,
            runConfig: run.run_config,
            flowRunConfig: run.flow?.run_config,
            flowStorage: run.flow?.storage,
          },
          apiUrl: access.apiUrl,
          // Only a run's own token goes to workers (their env, a Job spec, an ECS override), never a key
          // from a config file or profile of whoever started this executor.
          token: access.apiKey?.startsWith(RUN_TOKEN_PREFIX) ? access.apiKey : undefined,
          regentCommand: [process.execPath, REGENT_BIN],
          infraType: runner.infra?.type,
          ecsDefaults: () => ecsConfigDefaults!(access.config),
          log,
        })
      : undefined;
  const watch = watchRun(client, { id: run.id, execution: run.restart_count }, (line) =>
    log(`flow run ${run.name}: ${line}`),
  );
  try {
    const result = await flow.run((run.parameters ?? {}) as never, {
      reporter,
      signal: watch.signal,
      flowRunId: run.id,
      flowRunName: run.name,
      scheduledStartTime: new Date(run.scheduled_start_time),
      admission: serverTaskAdmission({ client, onWarning: (w) => log(`warning: ${w}`) }),
      server: { client, flowRunId: run.id },
      ...(workers ? { workers } : {}),
      ...(run.restart_count > 0 ? { previous } : {}),
      ...(run.timeout_ms !== null ? { timeout: run.timeout_ms } : {}),
    });
    const ended = result.state.type === "Paused" ? "paused" : `finished ${result.state.type}`;
    log(`flow run ${run.name} ${ended}${result.state.message ? `: ${result.state.message}` : ""}`);
    return result.state.type === "Success" || result.state.type === "Paused" ? 0 : 1;
  } catch (error) {
    // Parameters that no longer validate (the flow's own validator is stricter than its JSON Schema).
    return failBeforeStart((error as Error).message, error);
  } finally {
    watch.stop();
  }
}
