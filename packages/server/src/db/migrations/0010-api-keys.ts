import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/** API keys: only a hash of each is kept (the key is shown once, when created). */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  const uuid = sql.raw(t.uuid);
  const ts = sql.raw(t.ts);
  await db.schema
    .createTable("api_key")
    .addColumn("id", uuid, (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("key_hash", "text", (c) => c.notNull().unique())
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("created_by", uuid)
    .addColumn("expires", ts)
    .addColumn("revoked", ts)
    .addColumn("last_used", ts)
    .execute();
}
