import { sql } from "kysely";
import type { RegentDatabase } from "../db/database.js";

/**
 * Runs `work` if this server holds the named lock (PostgreSQL advisory lock, held on one connection for
 * the duration), and returns undefined without running it if another replica does: one replica at a time
 * runs each background service. SQLite serves one server process, which is always the leader. Leadership
 * is an economy, not a guarantee — the services' writes are idempotent, so two leaders at once (a lock
 * lost with its connection) create nothing twice.
 */
export async function asLeader<T>(
  database: Pick<RegentDatabase, "db" | "dialect">,
  name: string,
  work: () => Promise<T>,
): Promise<T | undefined> {
  if (database.dialect !== "postgres") return work();
  return database.db.connection().execute(async (connection) => {
    const key = sql`hashtext(${`regent:${name}`})`;
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}) as locked`.execute(
      connection,
    );
    if (!rows[0]?.locked) return undefined;
    try {
      return await work();
    } finally {
      await sql`select pg_advisory_unlock(${key})`.execute(connection);
    }
  });
}
