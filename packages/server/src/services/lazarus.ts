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

  async loop(): Promise<{ rescheduled: number; failed: number } | undefined> {
    const { store, settings, log } = this.options;
    return asLeader(this.options.database, "lazarus", async () => {
      const counts = { rescheduled: 0, failed: 0 };
      for (const lost of await this.runs.lost(this.options.clock(), settings, PER_LOOP)) {
        const verdict = await store.runControl.lost(lost.id, { reason: lost.reason }, settings.maxRestarts);
        if (verdict.verdict === "rescheduled") counts.rescheduled++;
        if (verdict.verdict === "failed") counts.failed++;
        if (verdict.verdict !== "unchanged" && verdict.verdict !== "superseded")
          log(`Lazarus: flow run ${lost.id}: ${verdict.message}`);
      }
      return counts;
    });
  }
}
