import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/**
 * Keys the server makes for itself, shared by every replica through the database: `run_token` signs the
 * token each claimed run gets (valid for that run only).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ts = sql.raw(types(dialect).ts);
  await db.schema
    .createTable("server_key")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("created", ts, (c) => c.notNull())
    .execute();
}
