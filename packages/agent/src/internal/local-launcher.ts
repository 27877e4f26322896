import { existsSync } from "node:fs";
import { type ExecutorAssignment, InvalidConfigError, needsFreshProcess } from "@regent/core";
import { ExecutorPool } from "./executor-pool.js";
import { spawnExecutor } from "./executor-process.js";
import type { ClaimedRun, Launched, Launcher, WorkerLaunch } from "./launcher.js";
import { localRunConfig } from "./run-config.js";
import { withoutAgentKeys } from "./run-launch.js";

export interface LocalLauncherOptions {
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly executorCommand: readonly [string, ...string[]];
  /** What runs a cluster worker (then its arguments): `regent worker`. None: this launcher starts no workers. */
  readonly workerCommand?: readonly [string, ...string[]];
  readonly env: Readonly<Record<string, string>>;
  /** Executors kept started ahead of runs (`executorCommand` + `--stdin`); 0 for none. */
  readonly poolSize: number;
  readonly log: (line: string) => void;
}

/**
 * Runs each flow run as a child process of the agent: `executorCommand` with the run's environment, in
 * the run config's `workingDir`, its output passed to `log` line by line. With a pool, a run is handed
 * to an executor started ahead of it (which applies the run config's environment and folder itself),
 * unless its environment has variables Node reads only at start-up or its folder is missing; those,
 * and runs that find the pool empty, get a process started for them.
 */
export function localLauncher(options: LocalLauncherOptions): Launcher {
  const [command, ...args] = options.executorCommand;
  // A run's process gets the run's token as its key, never the agent's. Executors started ahead of runs
  // hold no key at all, so on a server that asks for keys they do not load a flow's code while they wait
  // (that code would run beside the agent's key); they get the run's token with the run.
  const agentEnv = { REGENT__API: options.apiUrl };
  const preloads = options.apiKey === undefined;
  const pool =
    options.poolSize > 0
      ? new ExecutorPool({
          size: options.poolSize,
          log: options.log,
          start: (flowId) =>
            spawnExecutor({
              command,
              args: [...args, "--stdin", ...(flowId && preloads ? ["--preload", flowId] : [])],
              env: withoutKey({ ...process.env, ...options.env, ...agentEnv }),
              stdin: true,
              label: "[executor pool] ",
              log: options.log,
            }),
        })
      : undefined;

  // No token (a server that mints none): the run gets no key rather than the agent's.
  const keyFor = (run: ClaimedRun): string | undefined => run.token;

  return {
    type: "local",
    noun: "flow-run process",
    launch(run: ClaimedRun, worker?: WorkerLaunch): Launched {
      const config = localRunConfig(run.runConfig, run.flowRunConfig);
      const runEnv = withoutAgentKeys(config.env);
      const cwd = config.workingDir;
      const runKey = keyFor(run);
      const label = worker ? `[${run.name} ${worker.id}] ` : `[${run.name}] `;
      const processEnv = {
        ...withoutKey({ ...process.env, ...options.env }),
        ...runEnv,
        ...agentEnv,
        REGENT__FLOW_RUN_ID: run.id,
        ...(runKey ? { REGENT__API_KEY: runKey } : {}),
      };
      if (worker) {
        if (!options.workerCommand) throw new InvalidConfigError("this launcher starts no cluster workers");
        const [program, ...programArgs] = options.workerCommand;
        return launched(
          spawnExecutor({
            command: program,
            args: [...programArgs, ...worker.args],
            env: processEnv,
            cwd,
            stdin: false,
            label,
            log: options.log,
          }),
        );
      }

      // An executor that loaded the flow did so in the flow's run config: fit for runs that add nothing to it.
      const own = (run.runConfig ?? {}) as { env?: Record<string, unknown>; workingDir?: unknown };
      const addsNothing = Object.keys(own.env ?? {}).length === 0 && own.workingDir === undefined;
      const pooled =
        !needsFreshProcess(runEnv) && (cwd === undefined || existsSync(cwd))
          ? // Without preloading no executor holds a flow's code: any one fits any run ("" names none).
            pool?.take(preloads ? run.flowId : "", preloads ? addsNothing : true)
          : undefined;
      if (pooled) {
        pooled.label(label);
        const assignment: ExecutorAssignment = {
          flow_run_id: run.id,
          env: runEnv,
          working_dir: cwd ?? null,
          ...(runKey ? { api_key: runKey } : {}),
        };
        pooled.send(`${JSON.stringify(assignment)}\n`);
        return launched(pooled);
      }
      return launched(
        spawnExecutor({
          command,
          args,
          env: processEnv,
          cwd,
          stdin: false,
          label,
          log: options.log,
        }),
      );
    },
    close: async () => {
      await pool?.close();
    },
  };
}

function launched(executor: ReturnType<typeof spawnExecutor>): Launched {
  return {
    ref: executor.pid === undefined ? undefined : `pid ${executor.pid}`,
    ended: executor.ended,
    stop: (force) => executor.stop(force),
  };
}

/**
 * The environment without an API key the agent itself was started with (its own `REGENT__API_KEY`, which
 * process.env passes on): a run's process gets its run's token, a waiting executor nothing.
 */
function withoutKey(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const { REGENT__API_KEY: _agentKey, ...rest } = env;
  return rest;
}
