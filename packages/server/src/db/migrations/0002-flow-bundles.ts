import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";

/** Flow bundles kept in the database (the default storage), by content hash. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable("flow_bundle")
    .addColumn("hash", "text", (c) => c.primaryKey())
    .addColumn("code", "text", (c) => c.notNull())
    .addColumn("size", "integer", (c) => c.notNull())
    .addColumn("created", sql.raw(dialect === "postgres" ? "timestamptz" : "text"), (c) => c.notNull())
    .execute();
}
