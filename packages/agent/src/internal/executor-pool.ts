import type { ExecutorProcess } from "./executor-process.js";

/** Idle executors that die one after another this many times turn the pool off (a crash loop). */
const MAX_IDLE_DEATHS = 3;
/** Wait before replacing an executor that died idle, doubled for each death in a row. */
const RESPAWN_DELAY_MS = 500;
/** Wait after a take before starting the replacement. */
const REFILL_DELAY_MS = 100;
/** How long idle executors get to exit once their input ends, before they are killed. */
const CLOSE_TIMEOUT_MS = 5_000;

export interface ExecutorPoolOptions {
  /** Executors kept started and waiting for a run. */
  readonly size: number;
  /**
   * Starts one executor that waits for its run on standard input; with `flowId`, one that loads that
   * flow version's code while it waits.
   */
  readonly start: (flowId: string | undefined) => ExecutorProcess;
  readonly log: (line: string) => void;
}

interface Idle {
  readonly executor: ExecutorProcess;
  /** The flow version whose code it has loaded; undefined for one that can take any run. */
  readonly flowId: string | undefined;
}

/**
 * Executors started before there is a run for them, so that a claimed run skips Node's start-up and
 * the loading of the runtime. Each runs one flow run and exits.
 *
 * The pool starts with executors that can take any run. When one is taken for a run of a flow version,
 * its replacement loads that version's code while it waits, since the next run is most often of a flow
 * that just ran; a run then finds its code already loaded. A run of a version the pool has no executor
 * for, once none is left that can take any run, gets a process started for it, and the pool trades its
 * longest-idle executor for one with that version loaded.
 *
 * An executor that dies while idle is replaced after a short delay; when that keeps happening the pool
 * turns itself off and says why (runs then get a process of their own, as without a pool).
 */
export class ExecutorPool {
  /** Oldest first. */
  private idle: Idle[] = [];
  private deathsInARow = 0;
  private off = false;
  private respawn: NodeJS.Timeout | undefined;

  constructor(private readonly options: ExecutorPoolOptions) {
    this.fill();
  }

  /**
   * An idle executor for a run of `flowId`: one that has loaded that flow version (unless `loadedOk` is
   * false: the run sets env or a folder of its own, which the flow's module must see at import), else
   * one that can take any run; undefined when there is neither (start a process for the run). The pool
   * then starts an executor with `flowId` loaded: a replacement, or, when it has none for that flow, in
   * trade for its longest-idle one.
   */
  take(flowId: string, loadedOk = true): ExecutorProcess | undefined {
    this.idle = this.idle.filter((i) => i.executor.alive());
    const found =
      (loadedOk ? this.idle.find((i) => i.flowId === flowId) : undefined) ??
      this.idle.find((i) => i.flowId === undefined);
    if (found) {
      this.idle = this.idle.filter((i) => i !== found);
      this.deathsInARow = 0;
    } else if (!this.idle.some((i) => i.flowId === flowId)) {
      this.idle.shift()?.executor.send("");
    }
    // A little after the run has started: a starting process takes a core for a while, which the run's
    // own start-up (a few requests to the API) should not have to share.
    setTimeout(() => this.fill(flowId), REFILL_DELAY_MS).unref();
    return found?.executor;
  }

  /** Stops starting executors and lets the idle ones go: their input ends and they exit (or are killed). */
  async close(): Promise<void> {
    this.off = true;
    clearTimeout(this.respawn);
    const idle = this.idle.map((i) => i.executor);
    this.idle = [];
    for (const executor of idle) executor.send("");
    await Promise.all(
      idle.map(async (executor) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">((resolve) => {
          timer = setTimeout(() => resolve("late"), CLOSE_TIMEOUT_MS);
        });
        if ((await Promise.race([executor.ended, late])) === "late") {
          executor.stop(true);
          await executor.ended;
        }
        clearTimeout(timer);
      }),
    );
  }

  private fill(flowId?: string): void {
    while (!this.off && this.respawn === undefined && this.idle.length < this.options.size) {
      const entry: Idle = { executor: this.options.start(flowId), flowId };
      this.idle.push(entry);
      void entry.executor.ended.then((outcome) => this.died(entry, outcome));
    }
  }

  private died(entry: Idle, outcome: Awaited<ExecutorProcess["ended"]>): void {
    if (!this.idle.includes(entry) || this.off) return; // taken (the launch watches it), let go, or closed
    this.idle = this.idle.filter((i) => i !== entry);
    const how = outcome.kind === "exited" ? outcome.description : `did not start: ${outcome.error.message}`;
    this.deathsInARow++;
    if (this.deathsInARow >= MAX_IDLE_DEATHS) {
      this.off = true;
      for (const other of this.idle) other.executor.send("");
      this.idle = [];
      this.options.log(
        `executor pool: ${this.deathsInARow} pre-started executors in a row ended before a run (the last ${how}); the pool is off, each run gets a process started for it`,
      );
      return;
    }
    const delay = RESPAWN_DELAY_MS * 2 ** (this.deathsInARow - 1);
    this.options.log(
      `executor pool: a pre-started executor ${how} while waiting; starting another in ${delay} ms`,
    );
    this.respawn = setTimeout(() => {
      this.respawn = undefined;
      this.fill();
    }, delay);
    this.respawn.unref();
  }
}
