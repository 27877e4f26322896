import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateToLatest, openDatabase, type RegentDatabase } from "@regent/server";
import { inject } from "vitest";
import { type Backend, wantedBackends } from "./internal/backends.js";
import {
  isObjectInUse,
  pgDatabaseUrl,
  quoteIdent,
  requirePgUrl,
  withAdminClient,
} from "./internal/postgres.js";

export { type Backend, wantedBackends } from "./internal/backends.js";
export { PostgresNotConfiguredError } from "./internal/postgres.js";

/**
 * The backends the database suites loop over: `["sqlite", "postgres"]`, filtered by `REGENT_TEST_BACKENDS`.
 * PostgreSQL needs `REGENT_TEST_PG_URL`: without it, `backendTest("postgres")` and `freshDatabase("postgres")`
 * throw {@link PostgresNotConfiguredError}, which says how to get one (`npm test` starts one).
 */
export const BACKENDS: readonly Backend[] = Object.freeze(wantedBackends());

/** A migrated database of one test's own. */
export interface TestDatabase extends RegentDatabase {
  /** What `openDatabase` takes to open the same database again (a second connection, a restarted server). */
  readonly url: string;
  /** Closes it and deletes it (drops the PostgreSQL database, removes the SQLite file's folder). */
  dispose(): Promise<void>;
}

/**
 * A fresh, migrated database that no other test sees. SQLite: a copy of a template file migrated once per
 * worker process; PostgreSQL: `CREATE DATABASE regent_t_… TEMPLATE regent_template_…` (the template is
 * migrated once per run by `global-setup.ts`). Call `dispose()` when done; the fixtures do it for you.
 */
export async function freshDatabase(backend: Backend): Promise<TestDatabase> {
  return backend === "postgres" ? freshPostgres() : freshSqlite();
}

// --- PostgreSQL ------------------------------------------------------------------------------------------

async function freshPostgres(): Promise<TestDatabase> {
  const adminUrl = requirePgUrl();
  const template = inject("regentTestPgTemplate");
  if (!template) {
    throw new Error(
      "no PostgreSQL template database for this run: it is made by packages/testkit/src/global-setup.ts, " +
        "the root vitest.config.ts's test.globalSetup (was REGENT_TEST_PG_URL set only after vitest started?)",
    );
  }
  const name = `regent_t_${randomBytes(6).toString("hex")}`;
  await withAdminClient(adminUrl, async (client) => {
    // PostgreSQL waits up to 5 s for sessions on the template to go; a few more tries cover a slow one.
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`);
        return;
      } catch (error) {
        if (!isObjectInUse(error) || attempt >= 3) throw error;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  });
  const url = pgDatabaseUrl(adminUrl, name);
  let database: RegentDatabase;
  try {
    database = await openDatabase(url);
  } catch (error) {
    await dropPostgres(adminUrl, name);
    throw error;
  }
  return withDispose(database, url, () => dropPostgres(adminUrl, name));
}

const dropPostgres = (adminUrl: string, name: string) =>
  withAdminClient(adminUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
  );

// --- SQLite ----------------------------------------------------------------------------------------------

let workerDir: Promise<string> | undefined;
let sqliteTemplate: Promise<string> | undefined;

/**
 * This worker's folder for SQLite files: inside the run's folder that `global-setup.ts` provides (and
 * removes when the run ends, whatever became of the worker), else a folder of its own removed at exit.
 */
function sqliteDir(): Promise<string> {
  workerDir ??= (async () => {
    const runDir = inject("regentTestRunDir");
    if (runDir) {
      await mkdir(runDir, { recursive: true });
      return mkdtemp(join(runDir, `worker-${process.pid}-`));
    }
    const dir = await mkdtemp(join(tmpdir(), "regent-test-worker-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
  return workerDir;
}

function sqliteTemplateFile(): Promise<string> {
  sqliteTemplate ??= (async () => {
    const file = join(await mkdtemp(join(await sqliteDir(), "template-")), "regent.db");
    const database = await openDatabase(file);
    try {
      await migrateToLatest(database);
    } finally {
      // Closing the last connection checkpoints the WAL into the file and deletes it.
      await database.close();
    }
    return file;
  })().catch((error: unknown) => {
    sqliteTemplate = undefined;
    throw error;
  });
  return sqliteTemplate;
}

async function freshSqlite(): Promise<TestDatabase> {
  const template = await sqliteTemplateFile();
  const dir = await mkdtemp(join(await sqliteDir(), "test-"));
  const file = join(dir, "regent.db");
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await copyFile(template, file);
    for (const suffix of ["-wal", "-shm"]) {
      if (existsSync(template + suffix)) await copyFile(template + suffix, file + suffix);
    }
    return withDispose(await openDatabase(file), file, remove);
  } catch (error) {
    await remove();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------

function withDispose(database: RegentDatabase, url: string, destroy: () => Promise<unknown>): TestDatabase {
  let disposed: Promise<void> | undefined;
  return {
    db: database.db,
    dialect: database.dialect,
    description: database.description,
    url,
    close: () => database.close(),
    dispose() {
      disposed ??= (async () => {
        try {
          await database.close();
        } finally {
          await destroy();
        }
      })();
      return disposed;
    },
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    /** A folder for this test run's files, removed by `global-setup.ts` when the run ends. */
    regentTestRunDir: string;
    /** The run's migrated PostgreSQL template database, when PostgreSQL is tested. */
    regentTestPgTemplate?: string;
  }
}
