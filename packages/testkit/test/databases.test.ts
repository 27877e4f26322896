import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { LATEST_MIGRATION, TABLES } from "@regent/server";
import { BACKENDS, type Backend, backendTest, type TestDatabase, wantedBackends } from "@regent/testkit";
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";

const newProject = (name: string) => {
  const now = new Date().toISOString();
  return { id: crypto.randomUUID(), name, description: null, created: now, updated: now };
};

/** Whether the database a test had still exists, asked over a connection of our own. */
async function stillExists(backend: Backend, url: string): Promise<boolean> {
  if (backend === "sqlite") return existsSync(dirname(url));
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const client = new pg.Client({ connectionString: process.env.REGENT_TEST_PG_URL });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

describe("REGENT_TEST_BACKENDS", () => {
  test("unset or empty means every backend; a list filters, in a fixed order", () => {
    expect(wantedBackends("")).toEqual(["sqlite", "postgres"]);
    expect(wantedBackends(" ")).toEqual(["sqlite", "postgres"]);
    expect(wantedBackends("postgres, sqlite")).toEqual(["sqlite", "postgres"]);
    expect(wantedBackends("sqlite")).toEqual(["sqlite"]);
    expect(() => wantedBackends("sqlite,mysql")).toThrow(/unknown backend\(s\) mysql/);
    expect(BACKENDS).toEqual(wantedBackends());
  });
});

for (const backend of BACKENDS) {
  describe(backend, () => {
    const test = backendTest(backend);
    /** The databases earlier tests of this suite had, to check they were deleted. */
    const used: TestDatabase[] = [];

    test("gives a migrated database of the right dialect, with empty tables", async ({ database }) => {
      used.push(database);
      expect(database.dialect).toBe(backend);
      const tables = (await database.db.introspection.getTables()).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(Object.keys(TABLES)));
      expect(await database.db.selectFrom("project").selectAll().execute()).toEqual([]);
      const migrations = await database.db
        .withTables<{ kysely_migration: { name: string; timestamp: string } }>()
        .selectFrom("kysely_migration")
        .select("name")
        .orderBy("timestamp")
        .execute();
      expect(migrations.map((m) => m.name).at(-1)).toBe(LATEST_MIGRATION);
    });

    test("a test's writes stay in its own database (writer)", async ({ database }) => {
      used.push(database);
      await database.db.insertInto("project").values(newProject("isolation")).execute();
      expect(await database.db.selectFrom("project").select("name").execute()).toEqual([
        { name: "isolation" },
      ]);
    });

    test("a test's writes stay in its own database (reader)", async ({ database }) => {
      used.push(database);
      expect(new Set(used.map((d) => d.url)).size).toBe(used.length);
      expect(await database.db.selectFrom("project").selectAll().execute()).toEqual([]);
    });

    test.fails("a failing test's database is deleted too", async ({ database }) => {
      used.push(database);
      await database.db.insertInto("project").values(newProject("doomed")).execute();
      throw new Error("this test fails on purpose");
    });

    test("the earlier tests' databases were deleted after them", async () => {
      expect(used).toHaveLength(4);
      for (const database of used) {
        expect(await stillExists(backend, database.url), database.url).toBe(false);
      }
    });

    test("a database closed by its test is still deleted", async ({ database }) => {
      used.push(database);
      await database.close();
    });

    afterAll(async () => {
      expect(used).toHaveLength(5);
      expect(await stillExists(backend, used.at(-1)!.url)).toBe(false);
    });
  });
}
