import { FINAL_STATES } from "@regent/core";
import type { RegentDatabase } from "../db/database.js";

/** Deletes in bounded batches what retention no longer keeps. */
export class RetentionStore {
  constructor(private readonly database: Pick<RegentDatabase, "db" | "dialect">) {}

  private get db() {
    return this.database.db;
  }

  /**
   * Deletes up to `batch` of the oldest log lines (by insertion order) written before `before`; returns
   * how many went. Walks the primary key only, so no index on time is needed: lines are written in
   * roughly time order, and once the oldest are newer than the cutoff there is nothing left to delete.
   */
  async deleteLogsBefore(before: Date, batch: number): Promise<number> {
    const oldest = await this.db
      .selectFrom("log")
      .select(["seq", "timestamp"])
      .orderBy("seq")
      .limit(batch)
      .execute();
    const cutoff = before.getTime();
    const seqs = oldest
      .filter((r) => new Date(r.timestamp as string | Date).getTime() < cutoff)
      .map((r) => r.seq);
    if (seqs.length === 0) return 0;
    const result = await this.db.deleteFrom("log").where("seq", "in", seqs).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * Deletes up to `batch` flow runs that ended before `before`, with their task runs, state histories and
   * logs (by cascade); returns how many runs went. Runs are found through the (state, scheduled start)
   * index: a run that ended before the cutoff was scheduled before it.
   */
  async deleteRunsEndedBefore(before: Date, batch: number): Promise<number> {
    const at = before.toISOString();
    const ids = await this.db
      .selectFrom("flow_run")
      .select("id")
      .where("state", "in", [...FINAL_STATES])
      .where("scheduled_start_time", "<", at)
      .where((eb) => eb(eb.fn.coalesce("end_time", "state_timestamp"), "<", at))
      .limit(batch)
      .execute();
    if (ids.length === 0) return 0;
    const result = await this.db
      .deleteFrom("flow_run")
      .where(
        "id",
        "in",
        ids.map((r) => r.id),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
