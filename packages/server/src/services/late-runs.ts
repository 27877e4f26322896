import { whyUnclaimed } from "@regent/core";
import type { RegentDatabase } from "../db/database.js";
import { LateRunStore } from "../store/late-runs.js";
import type { Clock, Store } from "../store/store.js";
import { asLeader } from "./leadership.js";

/** Runs judged per loop at most, of each kind (newly late; already flagged). */
const PER_LOOP = 1_000;

export interface LateRunsOptions {
  readonly database: Pick<RegentDatabase, "db" | "dialect">;
  readonly store: Store;
  readonly clock?: Clock;
  /** A Scheduled run unclaimed this long after its start time is late (30 s). */
  readonly lateAfterMs?: number;
  /** An agent not seen for this long is not counted as live (60 s). */
  readonly agentTimeoutMs?: number;
}

/**
 * Late-run marking: a Scheduled run still unclaimed `lateAfterMs` after its start time gets a
 * `late_reason` saying why (no agent, no agent with its labels — naming what each lacks — or agents that
 * could but have not), and a warning in its log. Reasons are judged again when the live agents change.
 */
export class LateRuns {
  private readonly runs: LateRunStore;
  private readonly clock: Clock;
  private agentsSeen = "";

  constructor(private readonly options: LateRunsOptions) {
    this.runs = new LateRunStore(options.database);
    this.clock = options.clock ?? (() => new Date());
  }

  async loop(): Promise<{ flagged: number } | undefined> {
    return asLeader(this.options.database, "late-runs", async () => {
      const now = this.clock().getTime();
      const cutoff = new Date(now - (this.options.lateAfterMs ?? 30_000));
      const agents = await this.runs.liveAgents(new Date(now - (this.options.agentTimeoutMs ?? 60_000)));
      const fresh = await this.runs.waitingSince(cutoff, false, PER_LOOP);
      const seen = JSON.stringify(agents);
      const again = seen !== this.agentsSeen ? await this.runs.waitingSince(cutoff, true, PER_LOOP) : [];
      this.agentsSeen = seen;
      const changes = [...fresh, ...again]
        .map((run) => ({ id: run.id, reason: whyUnclaimed(run.labels, agents), was: run.lateReason }))
        .filter((c) => c.reason !== c.was);
      const written = new Set(await this.runs.flag(changes));
      await this.options.store.writeLogs(
        changes
          .filter((c) => written.has(c.id))
          .map((c) => ({ flowRunId: c.id, level: "warn", message: `This run is late: ${c.reason}` })),
      );
      return { flagged: written.size };
    });
  }
}
