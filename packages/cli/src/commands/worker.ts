import { hostname } from "node:os";
import { graphql, RegentClient } from "@regent/client";
import { type Config, InvalidUsageError, parseDuration, RegentError } from "@regent/core";
import { maskRevealed, runClusterWorker, untilServerAnswers } from "@regent/sdk";
import { flowOfRun, type StoredFlow } from "./execute.js";

const LoadWorkerRun = graphql(`
  query LoadWorkerRun($id: uuid!) { flow_run_by_pk(id: $id) { id name flow { name storage } } }
`);

export interface WorkerFlags {
  readonly flowRun?: string;
  readonly workerId?: string;
  readonly concurrency?: string;
  readonly heartbeatTimeout?: string;
  readonly idleExit?: string;
}

const whole = (text: string | undefined, flag: string, fallback: number): number => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidUsageError(`${flag} takes a whole number ≥ 1 (got "${text}")`);
  return n;
};

/**
 * `regent worker`: what `clusterTaskRunner` starts (as a process, a container or a pod) for a flow run.
 * Loads the run's flow from its storage, as the executor did, then takes the run's queued task runs
 * until the run ends, it is idle past `--idle-exit`, or it gets SIGTERM (it then finishes what runs).
 */
export async function runWorker(config: Config, flags: WorkerFlags): Promise<number> {
  const flowRunId = flags.flowRun ?? process.env.REGENT__FLOW_RUN_ID;
  if (!flowRunId)
    throw new InvalidUsageError(
      "regent worker needs --flow-run ID (or REGENT__FLOW_RUN_ID in its environment)",
    );
  const concurrency = whole(flags.concurrency, "--concurrency", 1);
  const heartbeatTimeoutMs = parseDuration(flags.heartbeatTimeout ?? "30s", "--heartbeat-timeout");
  const idleExitMs = flags.idleExit === undefined ? undefined : parseDuration(flags.idleExit, "--idle-exit");
  const workerId = flags.workerId ?? `${hostname()}-${process.pid}`;
  const log = (line: string) => process.stderr.write(`${maskRevealed(line)}\n`);

  const client = new RegentClient({ apiUrl: config.api, apiKey: config.api_key });
  const run = await loadRun(client, flowRunId, log);
  const loaded = await flowOfRun(client, run.flow?.name, (run.flow?.storage ?? {}) as StoredFlow);
  if ("problem" in loaded) {
    log(`worker ${workerId} for flow run ${run.name}: ${loaded.problem}`);
    return 1;
  }

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    const result = await runClusterWorker({
      apiUrl: config.api,
      apiKey: config.api_key,
      flowRunId,
      workerId,
      concurrency,
      heartbeatTimeoutMs,
      idleExitMs,
      signal: stop.signal,
      log,
    });
    log(`worker ${workerId} for flow run ${run.name}: ran ${result.ran} task runs; ${result.reason}`);
    // A task's timer or socket left open must not keep this process (its container, pod, ECS task) alive.
    setTimeout(() => process.exit(0), 100).unref();
    return 0;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}

/** The run, asked again while the server cannot answer (it may be restarting) for up to a minute. */
async function loadRun(client: RegentClient, id: string, log: (line: string) => void) {
  const deadline = Date.now() + 60_000;
  const { flow_run_by_pk: run } = await untilServerAnswers(() => client.request(LoadWorkerRun, { id }), {
    giveUp: () => Date.now() > deadline,
    onRetry: (error) => log(`worker: ${error.message}; trying again`),
  });
  if (!run) throw new RegentError("FLOW_RUN_NOT_FOUND", `no flow run with id ${id} at ${client.url}`);
  return run;
}
