import { InvalidUsageError } from "@regent/core";
import { type Agent, type AgentOptions, agentLog, startAgent } from "./agent-options.js";
import { localLauncher } from "./internal/local-launcher.js";

export interface LocalAgentOptions extends AgentOptions {
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
}

export type LocalAgent = Agent;

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
  const prestarted = options.prestarted ?? 0;
  if (!Number.isInteger(prestarted) || prestarted < 0 || prestarted > 100)
    throw new InvalidUsageError(`prestarted must be a whole number from 0 to 100 (got ${prestarted})`);
  return startAgent(
    options,
    localLauncher({
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      executorCommand: [command, ...args],
      env: options.env ?? {},
      poolSize: prestarted,
      log: agentLog(options),
    }),
  );
}
