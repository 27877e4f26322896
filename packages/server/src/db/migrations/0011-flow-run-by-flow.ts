import type { Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * A flow's runs newest first (the flow page, `flow_runs` of a flow) read from an index rather than by
 * sorting every run of the flow: `flow_run_flow` (flow_id) becomes (flow_id, scheduled_start_time), which
 * also serves the lookups by flow_id alone.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createIndex("flow_run_flow_scheduled")
    .on("flow_run")
    .columns(["flow_id", "scheduled_start_time"])
    .execute();
  await db.schema.dropIndex("flow_run_flow").execute();
}
