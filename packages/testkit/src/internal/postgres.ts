import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * The database `global-setup.ts` migrates once per run; every PostgreSQL test database is a copy of it.
 * Each run has its own (`regent_template_<random>`), so that runs sharing a server cannot drop each
 * other's template.
 */
export const pgTemplateName = (): string => `regent_template_${randomBytes(4).toString("hex")}`;

/** Where the tests' PostgreSQL server is (scripts/test.sh starts one and sets it). */
export const pgUrlFromEnv = (): string | undefined => process.env.REGENT_TEST_PG_URL || undefined;

export class PostgresNotConfiguredError extends Error {
  constructor() {
    super(
      "the PostgreSQL test backend is wanted but REGENT_TEST_PG_URL is not set: run the tests with `npm test` " +
        '(it starts a throwaway PostgreSQL), or start one with `eval "$(bash scripts/testbed/postgres.sh start)"` ' +
        "first (and `bash scripts/testbed/postgres.sh stop` after), or set REGENT_TEST_BACKENDS=sqlite",
    );
    this.name = "PostgresNotConfiguredError";
  }
}

export function requirePgUrl(): string {
  const url = pgUrlFromEnv();
  if (!url) throw new PostgresNotConfiguredError();
  return url;
}

/** `url` with its database name replaced by `database`. */
export function pgDatabaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A double-quoted SQL identifier. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Runs `fn` on a connection of its own to the server's maintenance database, closed afterwards. */
export async function withAdminClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Waits until no session is connected to `database` (a template must have none to be copied). */
export async function waitForNoSessions(
  client: pg.Client,
  database: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
      [database],
    );
    if (rows[0]?.n === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`${rows[0]?.n} session(s) still connected to ${database} after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether PostgreSQL refused because another session uses the database (SQLSTATE 55006). */
export const isObjectInUse = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { code?: unknown }).code === "55006";
