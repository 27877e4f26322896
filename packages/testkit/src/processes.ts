import { type ChildProcess, spawn } from "node:child_process";
import { REGENT_BIN } from "./cli.js";

/** A long-running `regent` process (a server, an agent…) started by a test. */
export interface RegentProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first match of `pattern` in its output; rejects after `timeoutMs` (default 30 s). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<RegentProcess>();
// Process groups of every process started since the last cleanup, exited or not: an agent a test killed
// may have left executors behind in its group.
const groups = new Set<number>();

/** Starts `regent ...args` in the background; `stopRegentProcesses()` (in afterEach) ends what is left. */
export function startRegentProcess(args: readonly string[], env: Record<string, string> = {}): RegentProcess {
  const child = spawn(process.execPath, [REGENT_BIN, ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // A group of its own, so cleanup ends what it started too (an agent's executors).
    detached: true,
  });
  if (child.pid !== undefined) groups.add(child.pid);
  let out = "";
  const collect = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const proc: RegentProcess = {
    child,
    output: () => out,
    async waitFor(pattern, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(out);
        if (m) return m;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `regent ${args.join(" ")} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${out}`,
          );
        }
        if (Date.now() > until)
          throw new Error(`timed out waiting for ${pattern} from regent ${args.join(" ")}:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/**
 * Kills (SIGKILL) every process started with `startRegentProcess` that is still running, and whatever
 * they started (their process groups: an agent's executors, also those of an agent already killed).
 */
export async function stopRegentProcesses(): Promise<void> {
  const stopping = [...running].reverse().map((p) => p.stop("SIGKILL"));
  for (const group of groups) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // ESRCH: the group is gone already.
    }
  }
  groups.clear();
  await Promise.all(stopping);
}
