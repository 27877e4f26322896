import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test as base, expect, type TestAPI } from "vitest";
import { type CliOptions, type CliResult, liveChildren, runCli } from "./cli.js";
import { type Backend, freshDatabase, type TestDatabase } from "./databases.js";
import { type PostgresNotConfiguredError, requirePgUrl } from "./internal/postgres.js";

export interface RegentFixtures {
  /** A fresh temporary folder, removed after the test. */
  tmp: string;
  /** `regent ...args` as a child process; the test fails if one is still running when it ends. */
  cli: (args: readonly string[], options?: CliOptions) => Promise<CliResult>;
}

/** vitest `test` with Regent's fixtures and hygiene checks (STYLE §11–13). */
export const regentTest = base.extend<RegentFixtures>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring.
  tmp: async ({}, use) => {
    const dir = await mkdtemp(join(tmpdir(), "regent-test-"));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
  // biome-ignore lint/correctness/noEmptyPattern: as above.
  cli: async ({}, use) => {
    await use((args, options) => runCli(args, options));
    const left = [...liveChildren()].filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of left) c.kill("SIGKILL");
    expect(
      left.map((c) => c.spawnargs.join(" ")),
      "child processes left running by the test",
    ).toEqual([]);
  },
});

export interface DatabaseFixtures {
  /** A migrated database of this test's own, closed and deleted after the test (passed or failed). */
  database: TestDatabase;
}

export type BackendTest = TestAPI<RegentFixtures & DatabaseFixtures>;

const backendTests = new Map<Backend, BackendTest>();

/**
 * `regentTest` plus a `database` fixture on `backend`: a fresh migrated database per test (see
 * `freshDatabase`), disposed of in the fixture's teardown, which vitest runs even when the test fails.
 * `backendTest("postgres")` without `REGENT_TEST_PG_URL` throws {@link PostgresNotConfiguredError}, which
 * fails the test file at collection, saying how to get a PostgreSQL.
 *
 * ```ts
 * for (const backend of BACKENDS) {
 *   describe(backend, () => {
 *     const test = backendTest(backend);
 *     test("…", async ({ database }) => { … });
 *   });
 * }
 * ```
 */
export function backendTest(backend: Backend): BackendTest {
  // Fail once, at collection, rather than in each test.
  if (backend === "postgres") requirePgUrl();
  return testOn(backend);
}

function testOn(backend: Backend): BackendTest {
  let t = backendTests.get(backend);
  if (!t) {
    t = regentTest.extend<DatabaseFixtures>({
      // biome-ignore lint/correctness/noEmptyPattern: as above.
      database: async ({}, use) => {
        const database = await freshDatabase(backend);
        try {
          await use(database);
        } finally {
          await database.dispose();
        }
      },
    });
    backendTests.set(backend, t);
  }
  return t;
}

/** `backendTest("sqlite")`. */
export const sqliteTest: BackendTest = testOn("sqlite");
/** `backendTest("postgres")`: needs `REGENT_TEST_PG_URL` (`npm test` sets it), else its tests fail saying so. */
export const pgTest: BackendTest = testOn("postgres");
