import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/** Secrets for flows (`ctx.secret`), each value encrypted with the server's secrets key (never stored plain). */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ts = sql.raw(types(dialect).ts);
  await db.schema
    .createTable("secret")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("created", ts, (c) => c.notNull())
    .addColumn("updated", ts, (c) => c.notNull())
    .execute();
}
