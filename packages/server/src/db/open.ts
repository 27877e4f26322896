import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { InvalidConfigError } from "@regent/core";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import type { Database, RegentDatabase } from "./database.js";

/** The embedded default: `~/.regent/regent.db`. */
export const defaultDatabasePath = (): string => join(homedir(), ".regent", "regent.db");

/**
 * Opens the database a URL names: `postgres://…` / `postgresql://…` for PostgreSQL; `sqlite:PATH`, a
 * `file:` URL or a plain path for SQLite (WAL, busy timeout, foreign keys on).
 */
export async function openDatabase(url: string = defaultDatabasePath()): Promise<RegentDatabase> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
    // An idle client that loses its connection must not crash the server; the next query reconnects.
    pool.on("error", () => {});
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
  const sqlite = new SQLite(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("synchronous = NORMAL");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: "sqlite", description: `sqlite:${path}`, close: () => db.destroy() };
}
