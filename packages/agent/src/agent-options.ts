import { InvalidUsageError } from "@regent/core";
import { AgentLoop } from "./internal/agent-loop.js";
import type { Launcher } from "./internal/launcher.js";

/** What every kind of agent is started with. */
export interface AgentOptions {
  /** The Regent API, e.g. `http://127.0.0.1:4200`; also what launched runs get as `REGENT__API`. */
  readonly apiUrl: string;
  /** Sent with every request (launched runs get a token of their own instead). */
  readonly apiKey?: string | undefined;
  readonly name: string;
  /** The agent takes runs whose labels are all among these. */
  readonly labels: readonly string[];
  /** Also take runs without labels (default false; an agent without labels always takes them). */
  readonly acceptUnlabeled?: boolean | undefined;
  /** Most runs launched at once (default 4). */
  readonly maxConcurrent?: number | undefined;
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

export interface Agent {
  /** The agent's id on the server. */
  readonly id: string;
  /**
   * Stops claiming, waits for running runs (asks them to stop after `stopTimeoutMs`, ends them 5 s later),
   * reports their outcomes and closes the subscription. Idempotent.
   */
  stop(): Promise<void>;
}

/** The agent's log: the options' or stderr. */
export const agentLog = (options: AgentOptions) =>
  options.log ?? ((line: string) => process.stderr.write(`${line}\n`));

/**
 * Checks the options every agent shares, then runs the agent loop with `launcher` (DESIGN §6): registers
 * with the server, claims runs whose labels it carries — woken by the `claimable_flow_runs` subscription,
 * polling as a fallback — and launches each. Resolves once registered and listening; rejects when the
 * server cannot be reached.
 */
export async function startAgent(options: AgentOptions, launcher: Launcher): Promise<Agent> {
  const maxConcurrent = options.maxConcurrent ?? 4;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 1000)
    throw new InvalidUsageError(`maxConcurrent must be a whole number from 1 to 1000 (got ${maxConcurrent})`);
  const duration = (name: string, value: number | undefined, fallback: number) => {
    const ms = value ?? fallback;
    if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && name !== "stopTimeoutMs"))
      throw new InvalidUsageError(`${name} must be a positive number of milliseconds (got ${value})`);
    return ms;
  };
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
      log: agentLog(options),
    },
    launcher,
  );
  try {
    await loop.start();
  } catch (error) {
    await loop.stop(); // lets go of the launcher's resources too
    throw error;
  }
  return { id: loop.id, stop: () => loop.stop() };
}
