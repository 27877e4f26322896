/**
 * Migrations with drift checked (STYLE §14): a freshly migrated database of each backend must have
 * exactly the schema committed in `schema.{sqlite,pg}.sql`, MIGRATIONS.md must have an entry for every
 * migration, and a database carrying a migration this code does not know is refused.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { InvalidConfigError } from "@regent/core";
import { BACKENDS, type Backend, backendTest } from "@regent/testkit";
import { sql } from "kysely";
import { describe, expect, test } from "vitest";
import { LATEST_MIGRATION, migrateToLatest, type RegentDatabase } from "../src/index.js";

const REGENERATE = "UPDATE_SCHEMA_DUMPS=1 npx vitest run packages/server/test/schema-drift.test.ts";

const dumpFile = (backend: Backend) =>
  new URL(`./schema.${backend === "postgres" ? "pg" : "sqlite"}.sql`, import.meta.url);

const header = (backend: Backend) =>
  `-- The schema of a freshly migrated Regent database on ${backend === "postgres" ? "PostgreSQL" : "SQLite"}` +
  ` (migrations up to ${LATEST_MIGRATION}).\n` +
  "-- Written by packages/server/test/schema-drift.test.ts, which fails when a migrated database differs;\n" +
  `-- do not edit. Regenerate after adding a migration (see MIGRATIONS.md):\n--   ${REGENERATE}\n`;

for (const backend of BACKENDS) {
  describe(`schema on ${backend}`, () => {
    const dbTest = backendTest(backend);

    dbTest(
      `a freshly migrated database matches schema.${backend === "postgres" ? "pg" : "sqlite"}.sql`,
      async ({ database }) => {
        const dump =
          header(backend) +
          (backend === "postgres" ? await dumpPostgres(database) : await dumpSqlite(database));
        const file = dumpFile(backend);
        if (process.env.UPDATE_SCHEMA_DUMPS === "1") writeFileSync(file, dump);
        const committed = existsSync(file) ? readFileSync(file, "utf8") : "(missing)";
        expect(
          dump,
          `the migrated ${backend} schema differs from ${file.pathname.split("/").slice(-2).join("/")}: if the ` +
            `change is intended (a new migration), regenerate it with\n  ${REGENERATE}\nand commit it`,
        ).toBe(committed);
      },
    );

    dbTest(
      "a database carrying a migration this code does not know is refused: upgrade Regent",
      async ({ database }) => {
        await database.db
          .withTables<{ kysely_migration: { name: string; timestamp: string } }>()
          .insertInto("kysely_migration")
          .values({ name: "9999-from-a-newer-regent", timestamp: new Date().toISOString() })
          .execute();
        const error = await migrateToLatest(database).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InvalidConfigError);
        expect((error as InvalidConfigError).code).toBe("INVALID_CONFIG");
        expect((error as Error).message).toMatch(/written by a newer Regent/);
        expect((error as Error).message).toMatch(/9999-from-a-newer-regent/);
        expect((error as Error).message).toMatch(/upgrade Regent/);
        // Nothing was touched: the schema is as it was.
        expect(await database.db.selectFrom("project").selectAll().execute()).toEqual([]);
      },
    );
  });
}

test("MIGRATIONS.md has an entry for every migration, and names the latest", () => {
  const doc = readFileSync(new URL("../MIGRATIONS.md", import.meta.url), "utf8");
  const files = readdirSync(new URL("../src/db/migrations/", import.meta.url))
    .filter((f) => /^\d{4}-.+\.ts$/.test(f))
    .map((f) => f.replace(/\.ts$/, ""))
    .sort();
  expect(files.at(-1)).toBe(LATEST_MIGRATION);
  const entries = [...doc.matchAll(/^## `(\d{4}-[^`]+)`/gm)].map((m) => m[1]);
  expect(entries, "one `## `NNNN-name`` heading per file in src/db/migrations, in order").toEqual(files);
  expect(doc).toContain(`Latest migration: \`${LATEST_MIGRATION}\``);
});

// --- dumps -----------------------------------------------------------------------------------------------

/** SQLite keeps each object's CREATE statement: tables (one column a line), then indexes, by name. */
async function dumpSqlite(database: RegentDatabase): Promise<string> {
  const { rows } = await sql<{ type: string; sql: string }>`
    SELECT type, sql FROM sqlite_master
     WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
     ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, name`.execute(database.db);
  return rows.map((r) => `${r.type === "table" ? formatCreateTable(r.sql) : r.sql};\n`).join("\n");
}

/** `create table "t" (a, b, …)` with one column or constraint a line. */
function formatCreateTable(statement: string): string {
  const open = statement.indexOf("(");
  const close = statement.lastIndexOf(")");
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = open + 1;
  for (let i = start; i < close; i++) {
    const ch = statement[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'" || ch === "`") quote = ch;
    else if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      parts.push(statement.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(statement.slice(start, close).trim());
  return `${statement.slice(0, open).trim()} (\n${parts.map((p) => `  ${p}`).join(",\n")}\n)`;
}

/**
 * PostgreSQL, from the catalogs (no pg_dump needed, and the same text whatever its version): per table in
 * name order, its columns in column order (type, default, NOT NULL), its constraints and the indexes that
 * back none, by name; then sequences. NOT NULL constraint rows (PostgreSQL 18 lists them) are left out,
 * since the columns already say it. It reads like pg_dump's DDL but is a description, in name order, not
 * a script to run (a foreign key may name a table listed after it).
 */
async function dumpPostgres(database: RegentDatabase): Promise<string> {
  const db = database.db;
  const columns = await sql<{
    table: string;
    column: string;
    type: string;
    default: string | null;
    not_null: boolean;
  }>`
    SELECT quote_ident(c.relname) AS table, quote_ident(a.attname) AS column, format_type(a.atttypid, a.atttypmod) AS type,
           pg_get_expr(d.adbin, d.adrelid) AS default, a.attnotnull AS not_null
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY c.relname, a.attnum`.execute(db);
  const constraints = await sql<{ table: string; name: string; def: string }>`
    SELECT quote_ident(c.relname) AS table, quote_ident(con.conname) AS name, pg_get_constraintdef(con.oid, true) AS def
      FROM pg_constraint con
      JOIN pg_class c ON c.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f', 'c', 'x')
     ORDER BY c.relname, con.conname`.execute(db);
  const indexes = await sql<{ table: string; def: string }>`
    SELECT quote_ident(t.relname) AS table, pg_get_indexdef(x.indexrelid) AS def
      FROM pg_index x
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = current_schema()
       AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid AND con.conrelid = x.indrelid)
     ORDER BY t.relname, i.relname`.execute(db);
  const sequences = await sql<{ name: string; type: string; owner: string | null }>`
    SELECT quote_ident(s.relname) AS name, format_type(q.seqtypid, NULL) AS type,
           (SELECT quote_ident(t.relname) || '.' || quote_ident(a.attname) FROM pg_depend dep
              JOIN pg_class t ON t.oid = dep.refobjid
              JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
             WHERE dep.objid = s.oid AND dep.classid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')) AS owner
      FROM pg_sequence q
      JOIN pg_class s ON s.oid = q.seqrelid
      JOIN pg_namespace n ON n.oid = s.relnamespace
     WHERE n.nspname = current_schema()
     ORDER BY s.relname`.execute(db);

  const tables = [...new Set(columns.rows.map((c) => c.table))];
  const out: string[] = [];
  for (const table of tables) {
    const cols = columns.rows
      .filter((c) => c.table === table)
      .map(
        (c) =>
          `  ${c.column} ${c.type}${c.default !== null ? ` DEFAULT ${c.default}` : ""}${c.not_null ? " NOT NULL" : ""}`,
      );
    const lines = [`CREATE TABLE ${table} (\n${cols.join(",\n")}\n);`];
    for (const c of constraints.rows.filter((c) => c.table === table)) {
      lines.push(`ALTER TABLE ${table} ADD CONSTRAINT ${c.name} ${c.def};`);
    }
    for (const i of indexes.rows.filter((i) => i.table === table)) lines.push(`${i.def};`);
    out.push(`${lines.join("\n")}\n`);
  }
  for (const s of sequences.rows) {
    out.push(`CREATE SEQUENCE ${s.name} AS ${s.type}${s.owner ? ` OWNED BY ${s.owner}` : ""};\n`);
  }
  return out.join("\n");
}
