import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";

/** Column types that differ by dialect; everything else is written once. */
export const types = (dialect: Dialect) =>
  dialect === "postgres"
    ? { uuid: "uuid", ts: "timestamptz", json: "jsonb", bool: "boolean", false: sql`false`, true: sql`true` }
    : { uuid: "text", ts: "text", json: "text", bool: "integer", false: sql`0`, true: sql`1` };

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  const uuid = sql.raw(t.uuid);
  const ts = sql.raw(t.ts);
  const json = sql.raw(t.json);
  const bool = sql.raw(t.bool);

  await db.schema
    .createTable("project")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("description", "text")
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("updated", ts, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("flow")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("version_group_id", uuid, (c) => c.notNull())
    .addColumn("project_id", uuid, (c) => c.notNull().references("project.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("archived", bool, (c) => c.notNull().defaultTo(t.false))
    .addColumn("description", "text")
    .addColumn("parameters_schema", json)
    .addColumn("run_config", json)
    .addColumn("labels", json, (c) => c.notNull())
    .addColumn("storage", json)
    .addColumn("schedule", json)
    .addColumn("schedule_active", bool, (c) => c.notNull().defaultTo(t.true))
    .addColumn("content_hash", "text", (c) => c.notNull())
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("updated", ts, (c) => c.notNull())
    .addUniqueConstraint("flow_version_unique", ["version_group_id", "version"])
    .execute();
  await db.schema.createIndex("flow_project_name").on("flow").columns(["project_id", "name"]).execute();

  await db.schema
    .createTable("flow_run")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("flow_id", uuid, (c) => c.notNull().references("flow.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("parameters", json, (c) => c.notNull())
    .addColumn("context", json, (c) => c.notNull())
    .addColumn("labels", json, (c) => c.notNull())
    .addColumn("run_config", json)
    .addColumn("scheduled_start_time", ts, (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("state_message", "text")
    .addColumn("state_version", "integer", (c) => c.notNull())
    .addColumn("state_timestamp", ts, (c) => c.notNull())
    .addColumn("start_time", ts)
    .addColumn("end_time", ts)
    .addColumn("idempotency_key", "text")
    .addColumn("agent_id", uuid)
    .addColumn("heartbeat", ts)
    .addColumn("restart_count", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("updated", ts, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("flow_run_flow").on("flow_run").column("flow_id").execute();
  await db.schema
    .createIndex("flow_run_claimable")
    .on("flow_run")
    .columns(["state", "scheduled_start_time"])
    .execute();
  await db.schema
    .createIndex("flow_run_idempotency")
    .on("flow_run")
    .columns(["flow_id", "idempotency_key"])
    .unique()
    .where(sql.ref("idempotency_key"), "is not", null)
    .execute();

  await db.schema
    .createTable("task_run")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("flow_run_id", uuid, (c) => c.notNull().references("flow_run.id").onDelete("cascade"))
    .addColumn("task_key", "text", (c) => c.notNull())
    .addColumn("task_name", "text", (c) => c.notNull())
    .addColumn("map_index", "integer", (c) => c.notNull())
    .addColumn("parent_task_run_id", uuid)
    .addColumn("upstream", json, (c) => c.notNull())
    .addColumn("tags", json, (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("state_message", "text")
    .addColumn("state_version", "integer", (c) => c.notNull())
    .addColumn("state_timestamp", ts, (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("cache_key", "text")
    .addColumn("result_ref", "text")
    .addColumn("start_time", ts)
    .addColumn("end_time", ts)
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("updated", ts, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("task_run_flow_run").on("task_run").column("flow_run_id").execute();

  for (const [table, owner] of [
    ["flow_run_state", "flow_run"],
    ["task_run_state", "task_run"],
  ] as const) {
    let create = db.schema
      .createTable(table)
      .addColumn("id", uuid, (c) => c.primaryKey())
      .addColumn(`${owner}_id`, uuid, (c) => c.notNull().references(`${owner}.id`).onDelete("cascade"));
    if (table === "task_run_state") {
      create = create.addColumn("flow_run_id", uuid, (c) =>
        c.notNull().references("flow_run.id").onDelete("cascade"),
      );
    }
    await create
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("message", "text")
      .addColumn("timestamp", ts, (c) => c.notNull())
      .addColumn("data", json)
      .addColumn("version", "integer", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex(`${table}_owner`)
      .on(table)
      .columns([`${owner}_id`, "version"])
      .execute();
  }

  await db.schema
    .createTable("log")
    .addColumn("seq", sql.raw(dialect === "postgres" ? "bigserial" : "integer"), (c) =>
      dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn("id", uuid, (c) => c.notNull().unique())
    .addColumn("flow_run_id", uuid, (c) => c.notNull().references("flow_run.id").onDelete("cascade"))
    .addColumn("task_run_id", uuid)
    .addColumn("level", "text", (c) => c.notNull())
    .addColumn("message", "text", (c) => c.notNull())
    .addColumn("timestamp", ts, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("log_flow_run").on("log").columns(["flow_run_id", "seq"]).execute();

  await db.schema
    .createTable("agent")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("labels", json, (c) => c.notNull())
    .addColumn("accept_unlabeled", bool, (c) => c.notNull().defaultTo(t.false))
    .addColumn("last_seen", ts, (c) => c.notNull())
    .addColumn("created", ts, (c) => c.notNull())
    .execute();
}
