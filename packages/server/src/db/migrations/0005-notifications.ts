import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/** Notification rules, their secrets (kept apart so that no read returns them), and the delivery outbox. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  const uuid = sql.raw(t.uuid);
  const ts = sql.raw(t.ts);
  const json = sql.raw(t.json);
  const bool = sql.raw(t.bool);
  await db.schema
    .createTable("notification_rule")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("project_id", uuid, (c) => c.references("project.id").onDelete("cascade"))
    .addColumn("flow_group_id", uuid)
    .addColumn("states", json, (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("active", bool, (c) => c.notNull().defaultTo(t.true))
    .addColumn("created", ts, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("notification_secret")
    .addColumn("rule_id", uuid, (c) => c.primaryKey().references("notification_rule.id").onDelete("cascade"))
    .addColumn("secret", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("notification")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("rule_id", uuid, (c) => c.notNull().references("notification_rule.id").onDelete("cascade"))
    .addColumn("flow_run_id", uuid, (c) => c.notNull().references("flow_run.id").onDelete("cascade"))
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("state_version", "integer", (c) => c.notNull())
    .addColumn("payload", json, (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt", ts, (c) => c.notNull())
    .addColumn("last_error", "text")
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("sent", ts)
    .addUniqueConstraint("notification_once", ["rule_id", "flow_run_id", "state_version"])
    .execute();
  await db.schema
    .createIndex("notification_due")
    .on("notification")
    .columns(["status", "next_attempt"])
    .execute();
  await db.schema.createIndex("notification_flow_run").on("notification").column("flow_run_id").execute();
}
