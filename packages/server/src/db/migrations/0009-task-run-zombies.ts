import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";

/** Task-run states an executor holds a task run in: what the zombie killer looks for in ended flow runs. */
export const STARTED_TASK_STATES = ["Queued", "Running", "Retrying", "Paused"] as const;

/**
 * The zombie killer's index: task runs an executor started and has not ended. It stays as small as the
 * work under way, so the sweep that looks for such task runs in ended flow runs reads only them.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createIndex("task_run_started")
    .on("task_run")
    .column("flow_run_id")
    .where(
      sql.ref("state"),
      "in",
      STARTED_TASK_STATES.map((s) => sql.lit(s)),
    )
    .execute();
}
