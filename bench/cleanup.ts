// Cleanup for the benchmarks that start children and make databases: whatever happens (an error, a
// signal, the watchdog), the children are killed and every registered cleanup runs before the exit.
import type { ChildProcess } from "node:child_process";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The live children of this benchmark (startCliChild adds them and removes them when they exit). */
export const children = new Set<ChildProcess>();
const cleanups = new Set<() => Promise<void>>();
let benchName = "bench";

/**
 * Registers an async cleanup; the returned function runs it once (later calls get the same promise) and
 * unregisters it when it has finished, so that an abort also waits for a cleanup already under way.
 */
export function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  let promise: Promise<void> | undefined;
  const run = () => {
    promise ??= fn().finally(() => cleanups.delete(run));
    return promise;
  };
  cleanups.add(run);
  return run;
}

let aborting: Promise<never> | undefined;
/** Kills the children, runs the cleanups (waiting for those under way), then exits; once. */
export function abort(reason: string, exitCode: number): Promise<never> {
  aborting ??= (async () => {
    process.stderr.write(`\n${benchName}: ${reason}: stopping the children and cleaning up…\n`);
    for (const child of children) child.kill("SIGKILL");
    // A few passes: a cleanup registered while this runs (a database created meanwhile) is run too.
    for (let pass = 0; pass < 3 && cleanups.size > 0; pass++) {
      for (const cleanup of [...cleanups].reverse()) {
        await Promise.race([cleanup().catch(() => {}), sleep(10_000)]);
      }
    }
    process.exit(exitCode);
  })();
  return aborting;
}

export const isAborting = (): boolean => aborting !== undefined;

export const checkNotAborting = (): void => {
  if (aborting) throw new Error("aborted");
};

/**
 * Sets up the process: aborts on SIGINT/SIGTERM and after `watchdogMs`, kills whatever child is left at
 * exit. `name` prefixes the abort message ("bench/server").
 */
export function guardProcess(name: string, watchdogMs: number): void {
  benchName = name;
  process.on("exit", () => {
    for (const child of children) child.kill("SIGKILL");
  });
  process.once("SIGINT", () => void abort("interrupted (SIGINT)", 130));
  process.once("SIGTERM", () => void abort("terminated (SIGTERM)", 143));
  setTimeout(() => void abort(`still running after ${watchdogMs / 1000} s`, 1), watchdogMs).unref();
}
