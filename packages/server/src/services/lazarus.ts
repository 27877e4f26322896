import type { RegentDatabase } from "../db/database.js";
import { LostRunStore } from "../store/lost-runs.js";
import type { Clock, Store } from "../store/store.js";
import { asLeader } from "./leadership.js";
import type { LazarusSettings } from "./services.js";

/** Lost runs judged per loop at most. */
const PER_LOOP = 500;

/**
 * Lazarus (DESIGN §5): runs whose executor went silent, or that their agent never started, are given to
 * the store's `lost` verdict — rescheduled as a new execution while restarts are left, then Failed.
 * Runs whose agent saw their infrastructure end are reported by the agent at once, not waited for here.
 * Also the zombie killer: task runs left started in flow runs that ended are ended too.
 */
export class Lazarus {
  private readonly runs: LostRunStore;
  /**
   * Since when this server has been able to hear executors and agents: its start, or the first loop
   * after one that failed (its database was down). Silence is counted from here, so that heartbeats
   * missed while the server or its database was away do not make healthy runs look lost.
   */
  private hearingSince: Date | undefined;

  constructor(
    private readonly options: {
      readonly database: Pick<RegentDatabase, "db" | "dialect">;
      readonly store: Store;
      readonly clock: Clock;
      readonly settings: LazarusSettings;
      readonly log: (line: string) => void;
    },
  ) {
    this.runs = new LostRunStore(options.database);
    this.hearingSince = options.clock();
  }

  async loop(): Promise<{ rescheduled: number; failed: number; zombies: number } | undefined> {
    this.hearingSince ??= this.options.clock();
    const hearingSince = this.hearingSince;
    try {
      return await asLeader(this.options.database, "lazarus", () => this.judge(hearingSince));
    } catch (error) {
      this.hearingSince = undefined;
      throw error;
    }
  }

  private async judge(hearingSince: Date): Promise<{ rescheduled: number; failed: number; zombies: number }> {
    const { store, settings, log, clock } = this.options;
    const counts = { rescheduled: 0, failed: 0, zombies: 0 };
    for (const lost of await this.runs.lost(clock(), hearingSince, settings, PER_LOOP)) {
      const verdict = await store.runControl.lost(lost.id, { reason: lost.reason }, settings.maxRestarts);
      if (verdict.verdict === "rescheduled") counts.rescheduled++;
      if (verdict.verdict === "failed") counts.failed++;
      if (verdict.verdict !== "unchanged" && verdict.verdict !== "superseded")
        log(`Lazarus: flow run ${lost.id}: ${verdict.message}`);
    }
    // A flow run's executor ends its task runs before the run; one that ended a heartbeat timeout ago
    // with task runs still started has no executor left to end them.
    const zombies = await this.runs.zombies(clock(), settings.heartbeatTimeoutMs, PER_LOOP);
    counts.zombies = await store.runControl.endZombies(zombies);
    if (counts.zombies > 0)
      log(`zombie killer: ended ${counts.zombies} task run(s) left started in ended flow runs`);
    return counts;
  }
}
