import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/**
 * The task-run queue of the cluster task runner: a flow run's process enqueues task executions (jobs),
 * the run's worker processes claim them (a stale heartbeat re-delivers), complete them with a result, and
 * the flow's process takes the results. Inputs and results are opaque JSON text to the server.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  const uuid = sql.raw(t.uuid);
  const ts = sql.raw(t.ts);
  await db.schema
    .createTable("task_queue")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("flow_run_id", uuid, (c) => c.notNull().references("flow_run.id").onDelete("cascade"))
    .addColumn("task_run_id", uuid, (c) => c.notNull())
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("task_name", "text", (c) => c.notNull())
    .addColumn("task_ordinal", "integer", (c) => c.notNull())
    .addColumn("input", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("queued"))
    .addColumn("worker_id", "text")
    .addColumn("deliveries", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("heartbeat", ts)
    .addColumn("result", "text")
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("finished", ts)
    .execute();
  // Every read of the queue is one run's jobs of one status, oldest (smallest id) first.
  await db.schema
    .createIndex("task_queue_run_status")
    .on("task_queue")
    .columns(["flow_run_id", "status", "id"])
    .execute();
}
