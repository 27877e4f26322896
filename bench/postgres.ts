// The PostgreSQL databases the benchmarks measure on: a fresh one per run, in the cluster that
// REGENT_TEST_PG_URL names, dropped afterwards (also when the benchmark is aborted).
import { openDatabase } from "@regent/server";
import { sql } from "kysely";
import { checkNotAborting, onCleanup } from "./cleanup.js";

export const PG_HOWTO =
  'eval "$(bash scripts/testbed/postgres.sh start)" (a throwaway local cluster; `bash scripts/testbed/postgres.sh stop` after), ' +
  "or set REGENT_TEST_PG_URL=postgres://… to a server where databases may be created";

/** Creates a fresh database `<prefix>_<pid>_<time>` in the cluster at `adminUrl`; drop() removes it (once). */
export async function createPostgresDatabase(
  adminUrl: string,
  prefix = "regent_bench",
): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  checkNotAborting();
  const admin = await openDatabase(adminUrl);
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  try {
    await sql`CREATE DATABASE ${sql.id(name)}`.execute(admin.db);
  } catch (error) {
    await admin.close();
    throw error;
  }
  const drop = onCleanup(async () => {
    try {
      try {
        await sql`DROP DATABASE IF EXISTS ${sql.id(name)} WITH (FORCE)`.execute(admin.db);
      } catch {
        // Before PostgreSQL 13 there is no WITH (FORCE); the children are stopped by now anyway.
        await sql`DROP DATABASE IF EXISTS ${sql.id(name)}`.execute(admin.db);
      }
    } finally {
      await admin.close();
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop };
}

/**
 * Runs `bench` on a fresh database of the PostgreSQL at REGENT_TEST_PG_URL (dropped after), or says how
 * to measure PostgreSQL when it is not set.
 */
export async function onPostgres<T>(
  bench: (url: string) => Promise<T>,
  progress: (line: string) => void,
): Promise<T | { skipped: string }> {
  const adminUrl = process.env.REGENT_TEST_PG_URL;
  if (!adminUrl) return { skipped: `REGENT_TEST_PG_URL is not set; to measure PostgreSQL: ${PG_HOWTO}` };
  const pgdb = await createPostgresDatabase(adminUrl);
  try {
    progress(`postgres (${pgdb.name})`);
    return await bench(pgdb.url);
  } finally {
    await pgdb.drop();
  }
}
