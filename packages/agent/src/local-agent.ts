import { InvalidUsageError } from "@regent/core";
import { AgentLoop } from "./internal/agent-loop.js";
import { localLauncher } from "./internal/local-launcher.js";

export interface LocalAgentOptions {
  /** The Regent API, e.g. `http://127.0.0.1:4200`; also what launched runs get as `REGENT__API`. */
  readonly apiUrl: string;
  /** Sent with every request, and given to launched runs as `REGENT__API_KEY`. */
  readonly apiKey?: string | undefined;
  readonly name: string;
  /** The agent takes runs whose labels are all among these. */
  readonly labels: readonly string[];
  /** Also take runs without labels (default false; an agent without labels always takes them). */
  readonly acceptUnlabeled?: boolean | undefined;
  /** Most runs launched at once (default 4). */
  readonly maxConcurrent?: number | undefined;
  /**
   * The program and arguments launched per run, e.g.
   * `[process.execPath, "/…/regent.js", "execute", "flow-run"]`.
   */
  readonly executorCommand: readonly string[];
  /**
   * Executors kept started ahead of runs (default 0): `executorCommand` plus `--stdin`, a process that gets
   * ready and then reads its run from standard input (core's ExecutorAssignmentSchema), so a claimed run
   * skips process start-up. Each runs one flow run; the pool starts a replacement when one is taken.
   */
  readonly prestarted?: number | undefined;
  /** Extra environment for launched runs (over the agent's own; under the run config's). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Poll for claimable runs this often (default 10 s); the subscription usually wakes the agent first. */
  readonly pollIntervalMs?: number | undefined;
  /** Heartbeat this often (default 10 s). */
  readonly heartbeatMs?: number | undefined;
  /** How long `stop()` waits for running runs before it ends them (default 30 s). */
  readonly stopTimeoutMs?: number | undefined;
  /** Where the agent's lines and the runs' output go (default stderr). */
  readonly log?: ((line: string) => void) | undefined;
}

export interface LocalAgent {
  /** The agent's id on the server. */
  readonly id: string;
  /**
   * Stops claiming, waits for running runs (SIGTERM after `stopTimeoutMs`, SIGKILL 5 s later), reports
   * their outcomes and closes the subscription. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * Starts a local agent (DESIGN §6): registers with the server, then claims runs whose labels it carries
 * — woken by the `claimable_flow_runs` subscription, polling as a fallback — and runs each as a child
 * process (`executorCommand`) with `REGENT__API` and `REGENT__FLOW_RUN_ID` in its environment. A child
 * that ends without the run reaching a final state fails the run as an infrastructure failure.
 * Resolves once registered and listening; rejects when the server cannot be reached.
 */
export async function startLocalAgent(options: LocalAgentOptions): Promise<LocalAgent> {
  const [command, ...args] = options.executorCommand;
  if (!command) throw new InvalidUsageError("executorCommand must name the program to launch per run");
  const maxConcurrent = options.maxConcurrent ?? 4;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 1000)
    throw new InvalidUsageError(`maxConcurrent must be a whole number from 1 to 1000 (got ${maxConcurrent})`);
  const prestarted = options.prestarted ?? 0;
  if (!Number.isInteger(prestarted) || prestarted < 0 || prestarted > 100)
    throw new InvalidUsageError(`prestarted must be a whole number from 0 to 100 (got ${prestarted})`);
  const duration = (name: string, value: number | undefined, fallback: number) => {
    const ms = value ?? fallback;
    if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && name !== "stopTimeoutMs"))
      throw new InvalidUsageError(`${name} must be a positive number of milliseconds (got ${value})`);
    return ms;
  };
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const loop = new AgentLoop(
    {
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      name: options.name,
      labels: [...new Set(options.labels)],
      acceptUnlabeled: options.acceptUnlabeled ?? false,
      maxConcurrent,
      pollIntervalMs: duration("pollIntervalMs", options.pollIntervalMs, 10_000),
      heartbeatMs: duration("heartbeatMs", options.heartbeatMs, 10_000),
      stopTimeoutMs: duration("stopTimeoutMs", options.stopTimeoutMs, 30_000),
      log,
    },
    localLauncher({
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      executorCommand: [command, ...args],
      env: options.env ?? {},
      poolSize: prestarted,
      log,
    }),
  );
  try {
    await loop.start();
  } catch (error) {
    await loop.stop();
    throw error;
  }
  return { id: loop.id, stop: () => loop.stop() };
}
