/**
 * vitest `globalSetup` (the root vitest.config.ts names this file): runs once per test run, before any
 * worker starts. It makes the run's temporary folder (removed at the end, or by the next run if this one
 * is killed first) and, when PostgreSQL is among the backends and `REGENT_TEST_PG_URL` is set, creates and
 * migrates the run's `regent_template_<random>`, then waits until none of its sessions are left, since
 * PostgreSQL copies only a template nobody is connected to. The template is dropped at the end.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateToLatest, openDatabase } from "@regent/server";
import type { TestProject } from "vitest/node";
import { wantedBackends } from "./internal/backends.js";
import {
  pgDatabaseUrl,
  pgTemplateName,
  pgUrlFromEnv,
  quoteIdent,
  waitForNoSessions,
  withAdminClient,
} from "./internal/postgres.js";

async function createPostgresTemplate(adminUrl: string, template: string): Promise<void> {
  await withAdminClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(template)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoteIdent(template)}`);
  });
  const database = await openDatabase(pgDatabaseUrl(adminUrl, template));
  try {
    await migrateToLatest(database);
  } finally {
    await database.close();
  }
  await withAdminClient(adminUrl, (client) => waitForNoSessions(client, template));
}

const dropPostgresTemplate = (adminUrl: string, template: string) =>
  withAdminClient(adminUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${quoteIdent(template)} WITH (FORCE)`),
  );

const RUN_DIR_PREFIX = "regent-test-run-";

/** Removes the run folders of earlier runs whose vitest died before its teardown (e.g. on Ctrl-C). */
async function removeStaleRunDirs(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    const pid = Number(/^regent-test-run-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await removeStaleRunDirs();
  const runDir = await mkdtemp(join(tmpdir(), `${RUN_DIR_PREFIX}${process.pid}-`));
  project.provide("regentTestRunDir", runDir);

  const wantsPostgres = wantedBackends().includes("postgres");
  const pgUrl = wantsPostgres ? pgUrlFromEnv() : undefined;
  if (wantsPostgres && !pgUrl) {
    process.stderr.write(
      "testkit: REGENT_TEST_PG_URL is not set, so test files with PostgreSQL suites will fail; `npm test` " +
        "starts a PostgreSQL for them (or set REGENT_TEST_BACKENDS=sqlite)\n",
    );
  }
  const template = pgTemplateName();
  try {
    if (pgUrl) {
      await createPostgresTemplate(pgUrl, template);
      project.provide("regentTestPgTemplate", template);
      // Watch mode: a rerun may follow a migration change, so migrate afresh.
      project.onTestsRerun(() => createPostgresTemplate(pgUrl, template));
    }
  } catch (error) {
    await rm(runDir, { recursive: true, force: true });
    throw error;
  }

  return async () => {
    try {
      if (pgUrl) await dropPostgresTemplate(pgUrl, template);
    } finally {
      await rm(runDir, { recursive: true, force: true });
    }
  };
}
