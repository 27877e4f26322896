import { type Kysely, sql } from "kysely";
import type { Dialect } from "../database.js";
import { types } from "./0001-initial.js";

/**
 * The API key an agent registered with: a runner key then acts for its own agents only, and reads only
 * the runs they claimed. No foreign key: a revoked key stays in `api_key`, and a deleted one (none are)
 * would leave the agent usable by admins.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .alterTable("agent")
    .addColumn("key_id", sql.raw(types(dialect).uuid))
    .execute();
}
