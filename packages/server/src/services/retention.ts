import type { RegentDatabase } from "../db/database.js";
import { RetentionStore } from "../store/retention.js";
import type { Clock } from "../store/store.js";
import { asLeader } from "./leadership.js";

export interface RetentionOptions {
  readonly database: Pick<RegentDatabase, "db" | "dialect">;
  readonly clock?: Clock;
  /** Flow runs that ended longer ago than this are deleted, with their task runs and logs (off: kept). */
  readonly runsMs?: number | undefined;
  /** Log lines older than this are deleted (off: kept). */
  readonly logsMs?: number | undefined;
  /** Log lines per DELETE (5,000). */
  readonly logBatch?: number;
  /** Runs per DELETE (100; each takes its task runs, states and logs along). */
  readonly runBatch?: number;
  /** Pause between two DELETEs, so requests are served in between (25 ms). */
  readonly pauseMs?: number;
  /** Time one loop deletes for at most; the next loop goes on (20 s). */
  readonly budgetMs?: number;
}

export interface RetentionLoop {
  readonly logsDeleted: number;
  readonly runsDeleted: number;
  readonly ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Retention: deletes old log lines and old finished runs in small batches with pauses between them, so
 * a backlog of millions of rows never holds a long lock or starves the API. One replica at a time.
 */
export class Retention {
  private readonly store: RetentionStore;
  private readonly clock: Clock;
  private stopping = false;

  constructor(private readonly options: RetentionOptions) {
    this.store = new RetentionStore(options.database);
    this.clock = options.clock ?? (() => new Date());
  }

  /** Ends the loop under way after its current batch (the server is stopping). */
  stop(): void {
    this.stopping = true;
  }

  get enabled(): boolean {
    return this.options.runsMs !== undefined || this.options.logsMs !== undefined;
  }

  async loop(): Promise<RetentionLoop | undefined> {
    if (!this.enabled) return { logsDeleted: 0, runsDeleted: 0, ms: 0 };
    const started = performance.now();
    const budget = this.options.budgetMs ?? 20_000;
    const pause = this.options.pauseMs ?? 25;
    const within = () => !this.stopping && performance.now() - started < budget;
    return asLeader(this.options.database, "retention", async () => {
      let logsDeleted = 0;
      let runsDeleted = 0;
      const { logsMs, runsMs } = this.options;
      if (logsMs !== undefined) {
        const before = new Date(this.clock().getTime() - logsMs);
        for (;;) {
          const n = await this.store.deleteLogsBefore(before, this.options.logBatch ?? 5_000);
          logsDeleted += n;
          if (n === 0 || !within()) break;
          await sleep(pause);
        }
      }
      if (runsMs !== undefined && within()) {
        const before = new Date(this.clock().getTime() - runsMs);
        for (;;) {
          const n = await this.store.deleteRunsEndedBefore(before, this.options.runBatch ?? 100);
          runsDeleted += n;
          if (n === 0 || !within()) break;
          await sleep(pause);
        }
      }
      return { logsDeleted, runsDeleted, ms: performance.now() - started };
    });
  }
}
