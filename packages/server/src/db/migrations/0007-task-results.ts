import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/**
 * What a restarted or resumed run needs to go on from where it stopped: each task run's place in its flow
 * run (`run_key`, matched by the next execution) and its result when it was kept in the database.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  await db.schema.alterTable("task_run").addColumn("run_key", "text").execute();
  await db.schema.alterTable("task_run").addColumn("result", sql.raw(t.json)).execute();
}
