import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/** The flow run that started a run (flows of flows). */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  await db.schema
    .alterTable("flow_run")
    .addColumn("parent_flow_run_id", sql.raw(t.uuid), (c) => c.references("flow_run.id").onDelete("set null"))
    .execute();
  await db.schema.createIndex("flow_run_parent").on("flow_run").column("parent_flow_run_id").execute();
}
