import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { InfrastructureError } from "@regent/core";
import type { ClaimedRun, Launched, Launcher, LaunchOutcome } from "./launcher.js";
import { eachLine } from "./lines.js";
import { localRunConfig } from "./run-config.js";

/** After a process exits, how long its output may keep its pipes open (a grandchild holding them). */
const DRAIN_MS = 2_000;

export interface LocalLauncherOptions {
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly executorCommand: readonly [string, ...string[]];
  readonly env: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
}

/**
 * Runs each flow run as a child process of the agent: `executorCommand` with the run's environment, in
 * the run config's `workingDir`, its output passed to `log` line by line. The child leads a process
 * group of its own, so a Ctrl-C meant for the agent does not reach it (the agent decides when runs stop)
 * and stopping it also stops what it started.
 */
export function localLauncher(options: LocalLauncherOptions): Launcher {
  const [command, ...args] = options.executorCommand;
  return {
    type: "local",
    noun: "flow-run process",
    launch(run: ClaimedRun): Launched {
      const config = localRunConfig(run.runConfig, run.flowRunConfig);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...options.env,
        ...config.env,
        // The agent's own variables win: a run config cannot point the run at another run or server.
        REGENT__API: options.apiUrl,
        REGENT__FLOW_RUN_ID: run.id,
        ...(options.apiKey ? { REGENT__API_KEY: options.apiKey } : {}),
      };
      const cwd = config.workingDir;
      const notStarted = (error: unknown): LaunchOutcome => {
        const cause = error instanceof Error ? error : new Error(String(error));
        const missingDir =
          (cause as NodeJS.ErrnoException).code === "ENOENT" && cwd !== undefined && !existsSync(cwd);
        return {
          kind: "not-started",
          error: new InfrastructureError(
            missingDir
              ? `its working directory ${cwd} does not exist (${cause.message})`
              : `${cause.message} (command: ${[command, ...args].join(" ")}${cwd ? `, working directory: ${cwd}` : ""})`,
            { command, args, cwd: cwd ?? null, errno: (cause as NodeJS.ErrnoException).code ?? null },
          ),
        };
      };

      let child: ChildProcess;
      try {
        child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      } catch (error) {
        // Invalid arguments throw at once; a missing program or folder comes as an `error` event below.
        return { ref: undefined, ended: Promise.resolve(notStarted(error)), stop() {} };
      }
      const prefix = `[${run.name}] `;
      const out = eachLine(child.stdout, (line) => options.log(prefix + line));
      const err = eachLine(child.stderr, (line) => options.log(prefix + line));

      const ended = new Promise<LaunchOutcome>((resolve) => {
        let spawned = false;
        child.once("spawn", () => {
          spawned = true;
        });
        child.on("error", (error) => {
          if (spawned) {
            options.log(`${prefix}${error.message}`);
            return;
          }
          child.stdout?.destroy();
          child.stderr?.destroy();
          resolve(notStarted(error));
        });
        child.once("exit", (code, signal) => {
          if (!spawned) return;
          const outcome: LaunchOutcome = signal
            ? { kind: "exited", description: `was killed by signal ${signal}`, exitCode: null, signal }
            : { kind: "exited", description: `exited with code ${code}`, exitCode: code, signal: null };
          const finish = () => {
            clearTimeout(timer);
            out.flush();
            err.flush();
            resolve(outcome);
          };
          const timer = setTimeout(() => {
            child.stdout?.destroy();
            child.stderr?.destroy();
            finish();
          }, DRAIN_MS);
          child.once("close", finish);
        });
      });

      return {
        ref: child.pid === undefined ? undefined : `pid ${child.pid}`,
        ended,
        stop(force) {
          if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
          const signal = force ? "SIGKILL" : "SIGTERM";
          try {
            process.kill(-child.pid, signal); // its whole process group
          } catch {
            child.kill(signal);
          }
        },
      };
    },
  };
}
