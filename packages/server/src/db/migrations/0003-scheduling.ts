import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/** What the scheduler keeps per flow, and the marks it and the late-run service put on runs. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  await db.schema.alterTable("flow").addColumn("schedule_through", sql.raw(t.ts)).execute();
  await db.schema.alterTable("flow").addColumn("schedule_due", sql.raw(t.ts)).execute();
  await db.schema.createIndex("flow_schedule_due").on("flow").column("schedule_due").execute();
  await db.schema
    .alterTable("flow_run")
    .addColumn("auto_scheduled", sql.raw(t.bool), (c) => c.notNull().defaultTo(t.false))
    .execute();
  await db.schema.alterTable("flow_run").addColumn("late_reason", "text").execute();
  // Active schedules registered before this version are planned at the first loop.
  const now = dialect === "postgres" ? sql`now()` : sql`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
  await sql`update flow set schedule_due = ${now}
    where schedule is not null and schedule_active = ${t.true} and archived = ${t.false}`.execute(db);
}
