import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { InfrastructureError } from "@regent/core";
import type { LaunchOutcome } from "./launcher.js";
import { eachLine } from "./lines.js";

/** After a process exits, how long its output may keep its pipes open (a grandchild holding them). */
const DRAIN_MS = 2_000;

export interface ExecutorSpawn {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string | undefined;
  /** A pipe to write the run to (pre-started executors); otherwise stdin is closed. */
  readonly stdin: boolean;
  /** Put before each line of its output; `label()` changes it later. */
  readonly label: string;
  readonly log: (line: string) => void;
}

/** A child process running an executor, watched from the moment it is spawned. */
export interface ExecutorProcess {
  readonly pid: number | undefined;
  /** Settles once it has ended and its output is drained; never rejects. */
  readonly ended: Promise<LaunchOutcome>;
  /** Whether it may still run something (spawned or spawning, and not exited). */
  alive(): boolean;
  /** What its output lines are prefixed with from now on. */
  label(label: string): void;
  /** Writes `text` to its standard input and closes it (with `stdin: true`). */
  send(text: string): void;
  /** SIGTERM (or SIGKILL with `force`) to its whole process group. */
  stop(force: boolean): void;
}

/**
 * Spawns an executor as the leader of a process group of its own, so a Ctrl-C meant for the agent does
 * not reach it (the agent decides when runs stop) and stopping it also stops what it started. Its
 * output goes to `log` line by line.
 */
export function spawnExecutor(options: ExecutorSpawn): ExecutorProcess {
  const { command, args, cwd, log } = options;
  let prefix = options.label;
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
    child = spawn(command, args, {
      cwd,
      env: options.env,
      stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      detached: true,
    });
  } catch (error) {
    // Invalid arguments throw at once; a missing program or folder comes as an `error` event below.
    const ended = Promise.resolve(notStarted(error));
    return { pid: undefined, ended, alive: () => false, label() {}, send() {}, stop() {} };
  }
  // A run written to a process that has just died is reported through `ended`, not as an EPIPE here.
  child.stdin?.on("error", () => {});
  const out = eachLine(child.stdout, (line) => log(prefix + line));
  const err = eachLine(child.stderr, (line) => log(prefix + line));
  let exited = false;

  const ended = new Promise<LaunchOutcome>((resolve) => {
    let spawned = false;
    child.once("spawn", () => {
      spawned = true;
    });
    child.on("error", (error) => {
      if (spawned) {
        log(`${prefix}${error.message}`);
        return;
      }
      exited = true;
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(notStarted(error));
    });
    child.once("exit", (code, signal) => {
      exited = true;
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
    pid: child.pid,
    ended,
    alive: () => !exited && child.exitCode === null && child.signalCode === null,
    label(label) {
      prefix = label;
    },
    send(text) {
      child.stdin?.end(text);
    },
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
}
