import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { InvalidConfigError } from "@regent/core";
import type SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import type { Database, RegentDatabase } from "./database.js";

/** The embedded default: `~/.regent/regent.db`. */
export const defaultDatabasePath = (): string => join(homedir(), ".regent", "regent.db");

/**
 * Opens the database a URL names: `postgres://…` / `postgresql://…` for PostgreSQL; `sqlite:PATH`, a
 * `file:` URL or a plain path for SQLite (WAL, busy timeout, foreign keys on).
 */
export async function openDatabase(url: string = defaultDatabasePath()): Promise<RegentDatabase> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    // Each driver is loaded only when its database is used (less memory for the embedded default).
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
    // An idle client that loses its connection must not crash the server; the next query reconnects.
    pool.on("error", () => {});
    // Nor one that loses it while checked out: the pool listens for errors only on idle clients, so a
    // connection ending between two queries of a transaction (the database stopped mid-request) would
    // emit an unhandled 'error' and take the process down. The request still fails (its query is
    // rejected, mapped to DATABASE_UNAVAILABLE), and the pool drops the dead client when it is released.
    pool.on("connect", (client) => client.on("error", () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const safe = new URL(url);
    safe.password = safe.password ? "***" : "";
    return { db, dialect: "postgres", description: safe.toString(), close: () => db.destroy() };
  }
  let path = url;
  if (url.startsWith("sqlite:")) path = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
  else if (url.startsWith("file:")) path = new URL(url).pathname;
  else if (/^[a-z]+:\/\//i.test(url)) {
    throw new InvalidConfigError(`unsupported database URL "${url}": use postgres://… or a SQLite file path`);
  }
  if (path !== ":memory:") {
    path = resolve(path);
    mkdirSync(dirname(path), { recursive: true });
  }
  const { default: SQLiteDatabase } = await import("better-sqlite3");
  const sqlite = new SQLiteDatabase(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("synchronous = NORMAL");
  // Kysely's SQLite driver prepares every statement anew; a bounded cache by SQL text saves that work
  // (statements are only ever used by Kysely's single connection, one at a time).
  const statements = new Map<string, SQLite.Statement>();
  const database = {
    close: () => sqlite.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (!statement) {
        statement = sqlite.prepare(text);
        if (statements.size >= 500) statements.delete(statements.keys().next().value!);
        statements.set(text, statement);
      }
      return statement;
    },
  };
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: database as never }) });
  return { db, dialect: "sqlite", description: `sqlite:${path}`, close: () => db.destroy() };
}
