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
  }

  async loop(): Promise<{ rescheduled: number; failed: number; zombies: number } | undefined> {
    const { store, settings, log } = this.options;
    return asLeader(this.options.database, "lazarus", async () => {
      const counts = { rescheduled: 0, failed: 0, zombies: 0 };
      for (const lost of await this.runs.lost(this.options.clock(), settings, PER_LOOP)) {
        const verdict = await store.runControl.lost(lost.id, { reason: lost.reason }, settings.maxRestarts);
        if (verdict.verdict === "rescheduled") counts.rescheduled++;
        if (verdict.verdict === "failed") counts.failed++;
        if (verdict.verdict !== "unchanged" && verdict.verdict !== "superseded")
          log(`Lazarus: flow run ${lost.id}: ${verdict.message}`);
      }
      // A flow run's executor ends its task runs before the run; one that ended a heartbeat timeout ago
      // with task runs still started has no executor left to end them.
      const zombies = await this.runs.zombies(this.options.clock(), settings.heartbeatTimeoutMs, PER_LOOP);
      counts.zombies = await store.runControl.endZombies(zombies);
      if (counts.zombies > 0)
        log(`zombie killer: ended ${counts.zombies} task run(s) left started in ended flow runs`);
      return counts;
    });
  }
}
