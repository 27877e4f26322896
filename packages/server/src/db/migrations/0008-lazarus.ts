import type { Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * Lazarus: how many times a flow's runs may be rescheduled when their infrastructure dies, and how many
 * were; and a run's own maximum duration, over its flow's timeout.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable("flow").addColumn("max_restarts", "integer").execute();
  await db.schema
    .alterTable("flow_run")
    .addColumn("lazarus_count", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable("flow_run").addColumn("timeout_ms", "integer").execute();
}
