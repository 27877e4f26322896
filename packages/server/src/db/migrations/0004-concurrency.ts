import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/** Concurrency limits: a flow's own (on the flow version), per label and per tag, and task runs' slots. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  const uuid = sql.raw(t.uuid);
  const ts = sql.raw(t.ts);
  await db.schema.alterTable("flow").addColumn("concurrency", sql.raw(t.json)).execute();
  await db.schema
    .createTable("concurrency_limit")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("slots", "integer", (c) => c.notNull())
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("updated", ts, (c) => c.notNull())
    .addUniqueConstraint("concurrency_limit_kind_name", ["kind", "name"])
    .execute();
  await db.schema
    .createTable("task_slot")
    .addColumn("task_run_id", uuid, (c) => c.notNull())
    .addColumn("tag", "text", (c) => c.notNull())
    .addColumn("flow_run_id", uuid, (c) => c.notNull().references("flow_run.id").onDelete("cascade"))
    .addColumn("acquired", ts, (c) => c.notNull())
    .addPrimaryKeyConstraint("task_slot_pkey", ["task_run_id", "tag"])
    .execute();
  await db.schema.createIndex("task_slot_tag").on("task_slot").column("tag").execute();
  await db.schema.createIndex("task_slot_flow_run").on("task_slot").column("flow_run_id").execute();
}
