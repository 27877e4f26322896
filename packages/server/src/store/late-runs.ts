import type { AgentSeen } from "@regent/core";
import { decodeRow } from "../db/codec.js";
import type { RegentDatabase } from "../db/database.js";

export interface WaitingRun {
  readonly id: string;
  readonly labels: string[];
  readonly lateReason: string | null;
}

/** The reads and writes of late-run marking and of waking agents as runs fall due. */
export class LateRunStore {
  constructor(private readonly database: Pick<RegentDatabase, "db" | "dialect">) {}

  private get db() {
    return this.database.db;
  }

  /**
   * Scheduled runs unclaimed since `cutoff` (their start time and their creation both before it, so a
   * backfilled run is judged from when it was made): not yet flagged ones, or (`flagged`) flagged ones.
   */
  async waitingSince(cutoff: Date, flagged: boolean, limit: number): Promise<WaitingRun[]> {
    const at = cutoff.toISOString();
    const rows = await this.db
      .selectFrom("flow_run")
      .select(["id", "labels", "late_reason"])
      .where("state", "=", "Scheduled")
      .where("scheduled_start_time", "<=", at)
      .where("created", "<=", at)
      .where("late_reason", flagged ? "is not" : "is", null)
      .orderBy("scheduled_start_time")
      .limit(limit)
      .execute();
    return rows.map((r) => {
      const row = decodeRow("flow_run", r);
      return { id: row.id as string, labels: row.labels as string[], lateReason: row.late_reason };
    });
  }

  /** Agents seen since `since`. */
  async liveAgents(since: Date): Promise<AgentSeen[]> {
    const rows = await this.db
      .selectFrom("agent")
      .select(["name", "labels", "accept_unlabeled"])
      .where("last_seen", ">=", since.toISOString())
      .orderBy("name")
      .execute();
    return rows.map((r) => {
      const row = decodeRow("agent", r);
      return {
        name: row.name as string,
        labels: row.labels as string[],
        acceptUnlabeled: row.accept_unlabeled === true,
      };
    });
  }

  /** Sets each run's late reason, if it is still Scheduled; returns the ids whose reason was written. */
  async flag(reasons: readonly { id: string; reason: string }[]): Promise<string[]> {
    if (reasons.length === 0) return [];
    return this.db.transaction().execute(async (tx) => {
      const written: string[] = [];
      for (const { id, reason } of reasons) {
        const result = await tx
          .updateTable("flow_run")
          .set({ late_reason: reason })
          .where("id", "=", id)
          .where("state", "=", "Scheduled")
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) > 0) written.push(id);
      }
      return written;
    });
  }

  /** One Queued run per label set (at most `limit` runs looked at): agents that could take them are woken. */
  async queuedByLabels(limit: number): Promise<{ id: string; labels: string[] }[]> {
    const rows = await this.db
      .selectFrom("flow_run")
      .select(["id", "labels"])
      .where("state", "=", "Queued")
      .orderBy("scheduled_start_time")
      .limit(limit)
      .execute();
    const seen = new Map<string, { id: string; labels: string[] }>();
    for (const r of rows) {
      const run = decodeRow("flow_run", r);
      const labels = run.labels as string[];
      const key = JSON.stringify(labels);
      if (!seen.has(key)) seen.set(key, { id: run.id as string, labels });
    }
    return [...seen.values()];
  }

  /** Scheduled runs whose start time is in (from, to]: they have just become claimable. */
  async fallingDue(from: Date, to: Date): Promise<{ id: string; labels: string[] }[]> {
    const rows = await this.db
      .selectFrom("flow_run")
      .select(["id", "labels"])
      .where("state", "=", "Scheduled")
      .where("scheduled_start_time", ">", from.toISOString())
      .where("scheduled_start_time", "<=", to.toISOString())
      .limit(10_000)
      .execute();
    return rows.map((r) => {
      const row = decodeRow("flow_run", r);
      return { id: row.id as string, labels: row.labels as string[] };
    });
  }
}
