import { InvalidConfigError } from "@regent/core";
import { type Migration, type MigrationProvider, Migrator } from "kysely";
import type { Dialect, RegentDatabase } from "./database.js";
import * as m0001 from "./migrations/0001-initial.js";
import * as m0002 from "./migrations/0002-flow-bundles.js";
import * as m0003 from "./migrations/0003-scheduling.js";
import * as m0004 from "./migrations/0004-concurrency.js";
import * as m0005 from "./migrations/0005-notifications.js";
import * as m0006 from "./migrations/0006-flow-run-parent.js";
import * as m0007 from "./migrations/0007-task-results.js";
import * as m0008 from "./migrations/0008-lazarus.js";
import * as m0009 from "./migrations/0009-task-run-zombies.js";
import * as m0010 from "./migrations/0010-api-keys.js";
import * as m0011 from "./migrations/0011-flow-run-by-flow.js";
import * as m0012 from "./migrations/0012-server-key.js";
import * as m0013 from "./migrations/0013-secrets.js";
import * as m0014 from "./migrations/0014-agent-key.js";
import * as m0015 from "./migrations/0015-task-queue.js";

type Step = { up(db: Parameters<Migration["up"]>[0], dialect: Dialect): Promise<void> };

/** Every migration, in order. Forward-only; each is listed in MIGRATIONS.md. */
const MIGRATIONS: ReadonlyArray<readonly [string, Step]> = [
  ["0001-initial", m0001],
  ["0002-flow-bundles", m0002],
  ["0003-scheduling", m0003],
  ["0004-concurrency", m0004],
  ["0005-notifications", m0005],
  ["0006-flow-run-parent", m0006],
  ["0007-task-results", m0007],
  ["0008-lazarus", m0008],
  ["0009-task-run-zombies", m0009],
  ["0010-api-keys", m0010],
  ["0011-flow-run-by-flow", m0011],
  ["0012-server-key", m0012],
  ["0013-secrets", m0013],
  ["0014-agent-key", m0014],
  ["0015-task-queue", m0015],
];

export const LATEST_MIGRATION = MIGRATIONS[MIGRATIONS.length - 1]![0];

function provider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      return Object.fromEntries(
        MIGRATIONS.map(([name, step]) => [name, { up: (db) => step.up(db, dialect) }]),
      );
    },
  };
}

/**
 * Brings the database to the latest schema (run at every server start). A database migrated by a newer
 * Regent is refused with a message saying to upgrade, rather than being written by older code.
 */
export async function migrateToLatest(database: RegentDatabase): Promise<string[]> {
  const migrator = new Migrator({ db: database.db, provider: provider(database.dialect) });
  const known = new Set(MIGRATIONS.map(([name]) => name));
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/corrupted migrations/.test(message)) {
      throw new InvalidConfigError(
        `the database ${database.description} was written by a newer Regent (it has migrations this version does not know: ${message}); upgrade Regent to use it`,
      );
    }
    throw error;
  }
  return (results ?? [])
    .filter((r) => r.status === "Success" && known.has(r.migrationName))
    .map((r) => r.migrationName);
}
