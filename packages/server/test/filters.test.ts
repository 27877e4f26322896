import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidUsageError } from "@regent/core";
import { BACKENDS, PostgresNotConfiguredError } from "@regent/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeRow } from "../src/db/codec.js";
import type { RegentDatabase } from "../src/db/database.js";
import { migrateToLatest } from "../src/db/migrate.js";
import { openDatabase } from "../src/db/open.js";
import type { TableName } from "../src/db/tables.js";
import { applyOrderBy, applyPaging, likeToGlob, MAX_LIMIT, whereExpression } from "../src/store/filters.js";

// The `where` / `order_by` / `limit` / `offset` compiler against real databases: one SQLite file and one
// PostgreSQL database per backend for this file (created, migrated and seeded once; the reads change nothing).

interface Handle {
  readonly database: RegentDatabase;
  dispose(): Promise<void>;
}

async function openBackend(backend: "sqlite" | "postgres"): Promise<Handle> {
  if (backend === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), "regent-filters-"));
    const database = await openDatabase(join(dir, "filters.db"));
    const dispose = async () => {
      await database.close();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await migrateToLatest(database);
    } catch (error) {
      await dispose();
      throw error;
    }
    return { database, dispose };
  }
  // No silent skipping: without a server the PostgreSQL suite fails, saying how to get one.
  const adminUrl = process.env.REGENT_TEST_PG_URL;
  if (!adminUrl) throw new PostgresNotConfiguredError();
  const name = `regent_filters_${randomBytes(6).toString("hex")}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
    client.on("error", () => {});
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let database: RegentDatabase | undefined;
  const dispose = async () => {
    try {
      await database?.close();
    } finally {
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  };
  try {
    database = await openDatabase(url.toString());
    await migrateToLatest(database);
  } catch (error) {
    await dispose();
    throw error;
  }
  return { database, dispose };
}

// --- seed ------------------------------------------------------------------------------------------------

/** Readable fixed ids: one hex letter per table, then the number (so ids sort by number). */
const uuid = (letter: string, n: number) => `${letter}0000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const ID = {
  P1: uuid("a", 1),
  P2: uuid("a", 2),
  P3: uuid("a", 3),
  F1: uuid("b", 1),
  F2: uuid("b", 2),
  F3: uuid("b", 3),
  R1: uuid("c", 1),
  R2: uuid("c", 2),
  R3: uuid("c", 3),
  R4: uuid("c", 4),
  R5: uuid("c", 5),
  L1: uuid("d", 1),
  L2: uuid("d", 2),
  L3: uuid("d", 3),
  L4: uuid("d", 4),
  A1: uuid("e", 1),
} as const;
const NAME_OF = new Map(Object.entries(ID).map(([name, id]) => [id, name]));

const T0 = "2024-01-01T00:00:00.000Z";

async function seed(database: RegentDatabase): Promise<void> {
  const { db, dialect } = database;
  const insert = async (table: TableName, rows: Record<string, unknown>[]) => {
    for (const row of rows) {
      await db
        .insertInto(table)
        .values(encodeRow(table, dialect, row) as never)
        .execute();
    }
  };
  await insert("project", [
    { id: ID.P2, name: "Beta", description: null, created: "2024-02-01T00:00:00Z", updated: T0 },
    { id: ID.P1, name: "alpha", description: "First project", created: T0, updated: T0 },
    {
      id: ID.P3,
      name: "100%_sure",
      description: "Has [brackets] * and ?",
      created: "2024-03-01T00:00:00Z",
      updated: T0,
    },
  ]);
  const flow = (id: string, project_id: string, name: string, version: number, archived: boolean) => ({
    id,
    version_group_id: project_id === ID.P1 ? ID.F1 : id,
    project_id,
    name,
    version,
    archived,
    labels: name === "etl" ? ["prod"] : [],
    schedule: version === 2 ? { type: "cron", cron: "0 * * * *" } : null,
    content_hash: `hash-${version}`,
    created: T0,
    updated: T0,
  });
  await insert("flow", [
    flow(ID.F3, ID.P2, "Report", 1, false),
    flow(ID.F1, ID.P1, "etl", 1, true),
    flow(ID.F2, ID.P1, "etl", 2, false),
  ]);
  await insert("agent", [
    {
      id: ID.A1,
      name: "docker-1",
      type: "docker",
      labels: [],
      accept_unlabeled: true,
      last_seen: T0,
      created: T0,
    },
  ]);
  const run = (id: string, flow_id: string, name: string, state: string, more: Record<string, unknown>) => ({
    id,
    flow_id,
    name,
    state,
    parameters: {},
    context: {},
    labels: [],
    state_version: 1,
    state_timestamp: T0,
    created: T0,
    updated: T0,
    ...more,
  });
  // Inserted out of id order, so that only the `id` tiebreaker explains the order of equal keys.
  await insert("flow_run", [
    run(ID.R5, ID.F3, "report_2", "Scheduled", { scheduled_start_time: "2024-03-05T00:00:00Z" }),
    run(ID.R3, ID.F2, "RUN-three", "Running", {
      scheduled_start_time: "2024-03-03T10:00:00.500Z",
      start_time: "2024-03-03T10:00:02Z",
      restart_count: 1,
    }),
    run(ID.R1, ID.F1, "run-one", "Success", {
      scheduled_start_time: "2024-03-01T10:00:00Z",
      start_time: "2024-03-01T10:00:05Z",
      end_time: "2024-03-01T10:01:00Z",
      state_message: "All done",
      run_config: { type: "local" },
    }),
    run(ID.R4, ID.F3, "report-1", "Scheduled", { scheduled_start_time: "2024-03-04T00:00:00Z" }),
    run(ID.R2, ID.F2, "run-two", "Failed", {
      scheduled_start_time: "2024-03-02T10:00:00Z",
      start_time: "2024-03-02T10:00:01Z",
      end_time: "2024-03-02T10:05:00Z",
      state_message: "Boom",
      restart_count: 2,
      agent_id: ID.A1,
    }),
  ]);
  const log = (id: string, flow_run_id: string, level: string, message: string) => ({
    id,
    flow_run_id,
    level,
    message,
    timestamp: T0,
  });
  await insert("log", [
    log(ID.L1, ID.R1, "INFO", "started"),
    log(ID.L2, ID.R1, "ERROR", "Disk full"),
    log(ID.L3, ID.R2, "ERROR", "boom"),
    log(ID.L4, ID.R3, "INFO", "working"),
  ]);
}

// --- cases -----------------------------------------------------------------------------------------------

interface Case {
  readonly name: string;
  readonly table?: TableName;
  readonly where?: unknown;
  readonly orderBy?: unknown;
  readonly limit?: number | null;
  readonly offset?: number | null;
  /** The rows, by their seed names, in order (unordered cases are ordered by the `id` tiebreaker). */
  readonly expected: readonly string[];
}

const ALL_RUNS = ["R1", "R2", "R3", "R4", "R5"];

const WHERE_CASES: readonly Case[] = [
  // Every operator, on the kinds it applies to.
  { name: "{} is true", where: {}, expected: ALL_RUNS },
  { name: "_eq text", where: { name: { _eq: "run-one" } }, expected: ["R1"] },
  { name: "_neq text", where: { state: { _neq: "Scheduled" } }, expected: ["R1", "R2", "R3"] },
  { name: "_neq leaves out nulls (SQL)", where: { state_message: { _neq: "Boom" } }, expected: ["R1"] },
  { name: "_in text", where: { state: { _in: ["Success", "Failed"] } }, expected: ["R1", "R2"] },
  { name: "_nin text", where: { state: { _nin: ["Scheduled", "Running"] } }, expected: ["R1", "R2"] },
  { name: "_in [] matches nothing", where: { state: { _in: [] } }, expected: [] },
  { name: "_nin [] matches everything", where: { state: { _nin: [] } }, expected: ALL_RUNS },
  { name: "_eq int", where: { restart_count: { _eq: 0 } }, expected: ["R1", "R4", "R5"] },
  { name: "_gt int", where: { restart_count: { _gt: 0 } }, expected: ["R2", "R3"] },
  { name: "_gte int", where: { restart_count: { _gte: 1 } }, expected: ["R2", "R3"] },
  { name: "_lt int", where: { restart_count: { _lt: 1 } }, expected: ["R1", "R4", "R5"] },
  { name: "_lte int", where: { restart_count: { _lte: 1 } }, expected: ["R1", "R3", "R4", "R5"] },
  { name: "_in int", where: { restart_count: { _in: [2, 1] } }, expected: ["R2", "R3"] },
  { name: "_nin int", where: { restart_count: { _nin: [0] } }, expected: ["R2", "R3"] },
  { name: "int beyond int4 compares", where: { restart_count: { _lt: 3_000_000_000 } }, expected: ALL_RUNS },
  { name: "two operators are ANDed", where: { restart_count: { _gte: 1, _lt: 2 } }, expected: ["R3"] },
  {
    name: "two fields are ANDed",
    where: { state: { _eq: "Scheduled" }, name: { _eq: "report-1" } },
    expected: ["R4"],
  },
  { name: "an empty comparison is true", where: { name: {} }, expected: ALL_RUNS },
  {
    name: "undefined operands are ignored",
    where: { name: { _eq: undefined }, state: undefined },
    expected: ALL_RUNS,
  },
  { name: "_like is case-sensitive", where: { name: { _like: "run-%" } }, expected: ["R1", "R2"] },
  { name: "_like _ is one character", where: { name: { _like: "report_%" } }, expected: ["R4", "R5"] },
  { name: "_like \\_ is a literal _", where: { name: { _like: "report\\_%" } }, expected: ["R5"] },
  { name: "_like whole value", where: { name: { _like: "run-on" } }, expected: [] },
  { name: "_ilike ignores case", where: { name: { _ilike: "RUN-%" } }, expected: ["R1", "R2", "R3"] },
  { name: "_ilike suffix", where: { name: { _ilike: "%three" } }, expected: ["R3"] },
  { name: "_is_null true", where: { state_message: { _is_null: true } }, expected: ["R3", "R4", "R5"] },
  { name: "_is_null false", where: { state_message: { _is_null: false } }, expected: ["R1", "R2"] },
  { name: "_is_null on a timestamp", where: { start_time: { _is_null: true } }, expected: ["R4", "R5"] },
  { name: "_is_null on json", where: { run_config: { _is_null: true } }, expected: ["R2", "R3", "R4", "R5"] },
  { name: "_is_null false on json", where: { labels: { _is_null: false } }, expected: ALL_RUNS },
  // Timestamps: ISO strings, compared as points in time.
  {
    name: "_gt timestamp (Z)",
    where: { scheduled_start_time: { _gt: "2024-03-03T10:00:00Z" } },
    expected: ["R3", "R4", "R5"],
  },
  {
    name: "_gt timestamp with an offset",
    where: { scheduled_start_time: { _gt: "2024-03-03T12:00:00.600+02:00" } },
    expected: ["R4", "R5"],
  },
  {
    name: "_lte timestamp",
    where: { scheduled_start_time: { _lte: "2024-03-02T10:00:00.000Z" } },
    expected: ["R1", "R2"],
  },
  {
    name: "_eq timestamp with milliseconds",
    where: { scheduled_start_time: { _eq: "2024-03-03T10:00:00.5Z" } },
    expected: ["R3"],
  },
  {
    name: "a time without offset is UTC",
    where: { scheduled_start_time: { _eq: "2024-03-03T10:00:00.500" } },
    expected: ["R3"],
  },
  {
    name: "a date alone is midnight UTC",
    where: { scheduled_start_time: { _gte: "2024-03-04" } },
    expected: ["R4", "R5"],
  },
  {
    name: "_in timestamps",
    where: { scheduled_start_time: { _in: ["2024-03-01T11:00:00+01:00", "2024-03-05T00:00:00Z"] } },
    expected: ["R1", "R5"],
  },
  {
    name: "a Date operand",
    where: { end_time: { _lt: new Date("2024-03-02T00:00:00Z") } },
    expected: ["R1"],
  },
  // uuids.
  { name: "_eq uuid", where: { flow_id: { _eq: ID.F2 } }, expected: ["R2", "R3"] },
  {
    name: "_eq uuid in upper case",
    where: { flow_id: { _eq: ID.F2.toUpperCase() } },
    expected: ["R2", "R3"],
  },
  { name: "_in uuid", where: { id: { _in: [ID.R5, ID.R1] } }, expected: ["R1", "R5"] },
  { name: "_is_null uuid", where: { agent_id: { _is_null: false } }, expected: ["R2"] },
  // Booleans.
  { name: "bool _eq false", table: "flow", where: { archived: { _eq: false } }, expected: ["F2", "F3"] },
  { name: "bool _eq true", table: "flow", where: { archived: { _eq: true } }, expected: ["F1"] },
  { name: "bool _neq true", table: "flow", where: { archived: { _neq: true } }, expected: ["F2", "F3"] },
  { name: "bool _in", table: "flow", where: { archived: { _in: [true] } }, expected: ["F1"] },
  {
    name: "json _is_null on flow",
    table: "flow",
    where: { schedule: { _is_null: false } },
    expected: ["F2"],
  },
  // LIKE patterns with characters special to LIKE or to SQLite's GLOB.
  {
    name: "_like escaped % and _",
    table: "project",
    where: { name: { _like: "100\\%\\_sure" } },
    expected: ["P3"],
  },
  {
    name: "_like \\% does not match x",
    table: "project",
    where: { name: { _like: "100\\%x%" } },
    expected: [],
  },
  {
    name: "_like with [ * ? literally",
    table: "project",
    where: { description: { _like: "%[brackets] * and ?" } },
    expected: ["P3"],
  },
  {
    name: "_like * is not a wildcard",
    table: "project",
    where: { description: { _like: "Has *" } },
    expected: [],
  },
  { name: "_like \\\\ is a backslash", table: "project", where: { name: { _like: "a\\\\%" } }, expected: [] },
  {
    name: "_like exact, case-sensitive",
    table: "project",
    where: { name: { _like: "ALPHA" } },
    expected: [],
  },
  { name: "_ilike exact", table: "project", where: { name: { _ilike: "ALPHA" } }, expected: ["P1"] },
  {
    name: "_ilike lower pattern, upper value",
    table: "project",
    where: { name: { _ilike: "beta" } },
    expected: ["P2"],
  },
  {
    name: "values are parameters, never SQL",
    table: "project",
    where: { name: { _eq: "x'; DROP TABLE project; --" } },
    expected: [],
  },
  // Logic.
  {
    name: "_and",
    where: { _and: [{ state: { _in: ["Failed", "Running"] } }, { restart_count: { _gt: 1 } }] },
    expected: ["R2"],
  },
  {
    name: "_or",
    where: { _or: [{ state: { _eq: "Success" } }, { state: { _eq: "Running" } }] },
    expected: ["R1", "R3"],
  },
  { name: "_not", where: { _not: { state: { _eq: "Scheduled" } } }, expected: ["R1", "R2", "R3"] },
  {
    name: "_not over a null is not true (SQL)",
    where: { _not: { state_message: { _eq: "Boom" } } },
    expected: ["R1"],
  },
  { name: "_and [] is true", where: { _and: [] }, expected: ALL_RUNS },
  { name: "_or [] is false", where: { _or: [] }, expected: [] },
  { name: "_not {} is false", where: { _not: {} }, expected: [] },
  {
    name: "nested logic",
    where: {
      _or: [
        { _and: [{ state: { _eq: "Scheduled" } }, { name: { _like: "%1" } }] },
        { _not: { _or: [{ restart_count: { _eq: 0 } }, { state: { _eq: "Scheduled" } }] } },
      ],
    },
    expected: ["R2", "R3", "R4"],
  },
  {
    name: "logic next to fields",
    where: { state: { _neq: "Failed" }, _or: [{ restart_count: { _gt: 0 } }, { name: { _eq: "run-one" } }] },
    expected: ["R1", "R3"],
  },
  // Relations: EXISTS over the related table, recursively.
  { name: "object relation", where: { flow: { name: { _eq: "Report" } } }, expected: ["R4", "R5"] },
  { name: "object relation on a bool", where: { flow: { archived: { _eq: true } } }, expected: ["R1"] },
  {
    name: "two object relations deep",
    where: { flow: { project: { name: { _eq: "alpha" } } } },
    expected: ["R1", "R2", "R3"],
  },
  {
    name: "object relation on a nullable key",
    where: { agent: { type: { _eq: "docker" } } },
    expected: ["R2"],
  },
  { name: "_not of an object relation", where: { _not: { agent: {} } }, expected: ["R1", "R3", "R4", "R5"] },
  { name: "array relation", where: { logs: { level: { _eq: "ERROR" } } }, expected: ["R1", "R2"] },
  { name: "array relation, any row", where: { logs: {} }, expected: ["R1", "R2", "R3"] },
  { name: "array relation, no row", where: { _not: { logs: {} } }, expected: ["R4", "R5"] },
  {
    name: "array relation with logic inside",
    where: { logs: { _and: [{ level: { _eq: "ERROR" } }, { message: { _ilike: "boom" } }] } },
    expected: ["R2"],
  },
  {
    name: "relations inside _or",
    where: { _or: [{ logs: { message: { _eq: "working" } } }, { flow: { name: { _eq: "Report" } } }] },
    expected: ["R3", "R4", "R5"],
  },
  {
    name: "array, then array relations",
    table: "project",
    where: { flows: { flow_runs: { state: { _eq: "Failed" } } } },
    expected: ["P1"],
  },
  { name: "projects with no flow", table: "project", where: { _not: { flows: {} } }, expected: ["P3"] },
  {
    name: "back to the starting table (aliases keep levels apart)",
    where: { flow: { flow_runs: { state: { _eq: "Failed" } } } },
    expected: ["R2", "R3"],
  },
  {
    name: "four levels, through the same tables twice",
    table: "log",
    where: { flow_run: { flow: { flow_runs: { logs: { message: { _eq: "boom" } } } } } },
    expected: ["L3", "L4"],
  },
  {
    name: "logs of runs of etl flows (case-insensitive)",
    table: "log",
    where: { flow_run: { flow: { name: { _ilike: "ETL" } } }, seq: { _gt: 0 } },
    expected: ["L1", "L2", "L3", "L4"],
  },
];

const ORDER_CASES: readonly Case[] = [
  { name: "no order_by: by id", orderBy: undefined, expected: ALL_RUNS },
  { name: "null order_by: by id", orderBy: null, expected: ALL_RUNS },
  { name: "asc: nulls last", orderBy: { start_time: "asc" }, expected: ["R1", "R2", "R3", "R4", "R5"] },
  { name: "desc: nulls first", orderBy: { start_time: "desc" }, expected: ["R4", "R5", "R3", "R2", "R1"] },
  {
    name: "asc_nulls_first",
    orderBy: { start_time: "asc_nulls_first" },
    expected: ["R4", "R5", "R1", "R2", "R3"],
  },
  {
    name: "asc_nulls_last",
    orderBy: { start_time: "asc_nulls_last" },
    expected: ["R1", "R2", "R3", "R4", "R5"],
  },
  {
    name: "desc_nulls_first",
    orderBy: [{ start_time: "desc_nulls_first" }],
    expected: ["R4", "R5", "R3", "R2", "R1"],
  },
  {
    name: "desc_nulls_last",
    orderBy: [{ start_time: "desc_nulls_last" }],
    expected: ["R3", "R2", "R1", "R4", "R5"],
  },
  { name: "nullable text", orderBy: { state_message: "asc" }, expected: ["R1", "R2", "R3", "R4", "R5"] },
  { name: "ties broken by id (asc)", orderBy: { state: "desc" }, expected: ["R1", "R4", "R5", "R3", "R2"] },
  {
    name: "a list, applied in order",
    orderBy: [{ restart_count: "desc" }, { scheduled_start_time: "desc" }],
    expected: ["R2", "R3", "R5", "R4", "R1"],
  },
  {
    name: "null entries ignored",
    orderBy: [null, { restart_count: null }, { restart_count: "asc" }],
    expected: ["R1", "R4", "R5", "R3", "R2"],
  },
  { name: "timestamps", orderBy: { scheduled_start_time: "desc" }, expected: ["R5", "R4", "R3", "R2", "R1"] },
  { name: "id desc", orderBy: { id: "desc" }, expected: ["R5", "R4", "R3", "R2", "R1"] },
  {
    name: "booleans: false first",
    table: "flow",
    orderBy: { archived: "asc" },
    expected: ["F2", "F3", "F1"],
  },
  {
    name: "booleans desc",
    table: "flow",
    orderBy: [{ archived: "desc" }, { version: "desc" }],
    expected: ["F1", "F2", "F3"],
  },
  {
    name: "with a where",
    where: { restart_count: { _eq: 0 } },
    orderBy: { name: "desc" },
    expected: ["R1", "R5", "R4"],
  },
];

const PAGING_CASES: readonly Case[] = [
  { name: "limit", limit: 2, expected: ["R1", "R2"] },
  { name: "limit and offset", limit: 2, offset: 2, expected: ["R3", "R4"] },
  { name: "offset alone", offset: 4, expected: ["R5"] },
  { name: "offset past the end", offset: 10, expected: [] },
  { name: "limit 0", limit: 0, expected: [] },
  { name: "limit above the cap", limit: MAX_LIMIT + 1, expected: ALL_RUNS },
  { name: "null limit and offset", limit: null, offset: null, expected: ALL_RUNS },
  {
    name: "paging an ordered, filtered read",
    where: { state: { _neq: "Success" } },
    orderBy: { start_time: "desc" },
    limit: 2,
    offset: 1,
    expected: ["R5", "R3"],
  },
];

interface ErrorCase {
  readonly name: string;
  readonly table?: TableName;
  readonly where?: unknown;
  readonly orderBy?: unknown;
  readonly limit?: unknown;
  readonly offset?: unknown;
  /** The start of the message (the path). */
  readonly message: string | RegExp;
}

let deep: unknown = { name: { _eq: "x" } };
for (let i = 0; i < 40; i++) deep = { _not: deep };

const ERROR_CASES: readonly ErrorCase[] = [
  {
    name: "unknown field",
    where: { nme: { _eq: "x" } },
    message:
      /^where\.nme: unknown field of flow_run \(fields: id, flow_id, name, .*, flow, agent, task_runs, states, logs, notifications, parent, children, _and, _or, _not\)$/,
  },
  {
    name: "unknown field of a related table",
    where: { flow: { nme: { _eq: "x" } } },
    message: /^where\.flow\.nme: unknown field of flow \(fields: id, version_group_id, .*project, flow_runs/,
  },
  {
    name: "unknown field two levels down",
    where: { flow: { project: { nme: {} } } },
    message: /^where\.flow\.project\.nme: unknown field of project /,
  },
  {
    name: "unknown field in _and",
    where: { _and: [{}, { nme: {} }] },
    message: /^where\._and\[1\]\.nme: unknown field/,
  },
  {
    name: "a relation of another table",
    where: { flows: {} },
    message: /^where\.flows: unknown field of flow_run/,
  },
  {
    name: "Object.prototype names are no fields",
    where: { constructor: {} },
    message: /^where\.constructor: unknown field/,
  },
  { name: "toString is no field", where: { toString: {} }, message: /^where\.toString: unknown field/ },
  {
    name: "__proto__ is no field",
    where: JSON.parse('{"__proto__": {"_eq": 1}}'),
    message: /^where\.__proto__: unknown field/,
  },
  {
    name: "unknown operator",
    where: { name: { _foo: "x" } },
    message: /^where\.name\._foo: unknown operator \(operators for a text column: _eq, .*_ilike, _is_null\)$/,
  },
  {
    name: "hasOwnProperty is no operator",
    where: { name: { hasOwnProperty: "x" } },
    message: /^where\.name\.hasOwnProperty: unknown operator/,
  },
  { name: "where is not an object", where: [{ name: { _eq: "x" } }], message: /^where: expected an object/ },
  { name: "where is a string", where: "name = 'x'", message: /^where: expected an object/ },
  {
    name: "_and is not a list",
    where: { _and: { name: { _eq: "x" } } },
    message: /^where\._and: expected a list/,
  },
  { name: "_or item is not an object", where: { _or: [1] }, message: /^where\._or\[0\]: expected an object/ },
  { name: "_not is a list", where: { _not: [] }, message: /^where\._not: expected an object/ },
  {
    name: "a relation is not an object",
    where: { flow: "etl" },
    message: /^where\.flow: expected an object \(a flow_bool_exp\)/,
  },
  {
    name: "a comparison is not an object",
    where: { name: "run-one" },
    message: /^where\.name: expected an object of operators/,
  },
  { name: "null field", where: { name: null }, message: /^where\.name: null is not a condition/ },
  {
    name: "null operand",
    where: { name: { _eq: null } },
    message: /^where\.name\._eq: null is not a value to compare with; use _is_null/,
  },
  {
    name: "_in not a list",
    where: { state: { _in: "Failed" } },
    message: /^where\.state\._in: expected a list of text values, got "Failed"$/,
  },
  { name: "_nin not a list", where: { state: { _nin: 3 } }, message: /^where\.state\._nin: expected a list/ },
  {
    name: "_in item of the wrong type",
    where: { state: { _in: ["Failed", 3] } },
    message: /^where\.state\._in\[1\]: expected a string, got 3$/,
  },
  {
    name: "_in item null",
    where: { restart_count: { _in: [1, null] } },
    message: /^where\.restart_count\._in\[1\]: expected an integer, got null$/,
  },
  {
    name: "text given a number",
    where: { name: { _eq: 5 } },
    message: /^where\.name\._eq: expected a string, got 5$/,
  },
  {
    name: "int given a string",
    where: { restart_count: { _gt: "1" } },
    message: /^where\.restart_count\._gt: expected an integer, got "1"$/,
  },
  {
    name: "int given a fraction",
    where: { restart_count: { _gt: 1.5 } },
    message: /^where\.restart_count\._gt: expected an integer/,
  },
  {
    name: "bool given a string",
    table: "flow",
    where: { archived: { _eq: "false" } },
    message: /^where\.archived\._eq: expected true or false, got "false"$/,
  },
  {
    name: "uuid that is not one",
    where: { id: { _eq: "R1" } },
    message: /^where\.id\._eq: expected a uuid, got "R1"$/,
  },
  {
    name: "timestamp that does not parse",
    where: { scheduled_start_time: { _gt: "yesterday" } },
    message: /^where\.scheduled_start_time\._gt: expected an ISO 8601 timestamp/,
  },
  {
    name: "timestamp with month 13",
    where: { scheduled_start_time: { _gt: "2024-13-01T00:00:00Z" } },
    message: /^where\.scheduled_start_time\._gt: expected an ISO 8601/,
  },
  {
    name: "timestamp as a number",
    where: { start_time: { _lt: 1_700_000_000_000 } },
    message: /^where\.start_time\._lt: expected an ISO 8601/,
  },
  {
    name: "an invalid Date",
    where: { start_time: { _lt: new Date("nope") } },
    message: /^where\.start_time\._lt: expected an ISO 8601/,
  },
  {
    name: "_is_null not a boolean",
    where: { start_time: { _is_null: "yes" } },
    message: /^where\.start_time\._is_null: expected true or false/,
  },
  {
    name: "json _eq",
    where: { labels: { _eq: ["prod"] } },
    message: /^where\.labels\._eq: json columns support only _is_null$/,
  },
  {
    name: "json _in",
    where: { parameters: { _in: [] } },
    message: /^where\.parameters\._in: json columns support only _is_null$/,
  },
  {
    name: "json unknown operator",
    where: { parameters: { _contains: {} } },
    message: /^where\.parameters\._contains: unknown operator \(operators for a json column: _is_null\)$/,
  },
  {
    name: "_like on an int",
    where: { restart_count: { _like: "1%" } },
    message: /^where\.restart_count\._like: _like applies to text columns only$/,
  },
  {
    name: "_ilike on a uuid",
    where: { id: { _ilike: "c%" } },
    message: /^where\.id\._ilike: _ilike applies to text columns only$/,
  },
  {
    name: "_like pattern not a string",
    where: { name: { _like: 1 } },
    message: /^where\.name\._like: expected a LIKE pattern string/,
  },
  {
    name: "_like ending in the escape",
    where: { name: { _like: "run\\" } },
    message: /^where\.name\._like: the pattern ends with the escape character/,
  },
  {
    name: "text with NUL",
    where: { name: { _eq: "a\u0000b" } },
    message: /^where\.name\._eq: expected a string without NUL/,
  },
  { name: "too deep", where: deep, message: /nested more than 32 levels deep$/ },
  // order_by
  {
    name: "order_by unknown column",
    orderBy: { nme: "asc" },
    message: /^order_by\.nme: unknown column of flow_run \(columns: id, flow_id, name, /,
  },
  {
    name: "order_by unknown column in a list",
    orderBy: [{ name: "asc" }, { nme: "asc" }],
    message: /^order_by\[1\]\.nme: unknown column of flow_run/,
  },
  {
    name: "order_by a relation",
    orderBy: { flow: "asc" },
    message: /^order_by\.flow: unknown column of flow_run/,
  },
  {
    name: "order_by constructor",
    orderBy: { constructor: "asc" },
    message: /^order_by\.constructor: unknown column/,
  },
  {
    name: "order_by a bad direction",
    orderBy: { name: "ascending" },
    message:
      /^order_by\.name: expected one of asc, desc, asc_nulls_first, asc_nulls_last, desc_nulls_first, desc_nulls_last, got "ascending"$/,
  },
  {
    name: "order_by a json column",
    orderBy: { labels: "asc" },
    message: /^order_by\.labels: cannot order by a json column$/,
  },
  {
    name: "order_by entry not an object",
    orderBy: ["name"],
    message: /^order_by\[0\]: expected an object of column: direction/,
  },
  {
    name: "order_by a string",
    orderBy: "name",
    message: /^order_by: expected an object of column: direction/,
  },
  // paging
  { name: "negative limit", limit: -1, message: /^limit: expected a non-negative integer, got -1$/ },
  { name: "fractional limit", limit: 1.5, message: /^limit: expected a non-negative integer, got 1.5$/ },
  { name: "limit as a string", limit: "10", message: /^limit: expected a non-negative integer, got "10"$/ },
  { name: "negative offset", offset: -5, message: /^offset: expected a non-negative integer, got -5$/ },
  { name: "NaN offset", offset: Number.NaN, message: /^offset: expected a non-negative integer/ },
];

// --- the suites ------------------------------------------------------------------------------------------

describe.each(BACKENDS)("filters on %s", (backend) => {
  let handle: Handle | undefined;
  const database = (): RegentDatabase => {
    if (!handle) throw new Error(`the ${backend} database was not set up (see the beforeAll error)`);
    return handle.database;
  };

  beforeAll(async () => {
    handle = await openBackend(backend);
    await seed(handle.database);
  });
  afterAll(async () => {
    await handle?.dispose();
  });

  /** The read the GraphQL resolvers make (store/reads.ts), without decoding. */
  function query(args: Omit<Case, "name" | "expected"> | Omit<ErrorCase, "name" | "message">) {
    const { db, dialect } = database();
    const table = args.table ?? "flow_run";
    // One concrete table for Kysely's types; `table` is the real one.
    let q = db.selectFrom(table as "flow_run").select("id");
    if (args.where !== undefined)
      q = q.where((eb) => whereExpression(eb, table as "flow_run", args.where, dialect));
    q = applyOrderBy(q, table, args.orderBy);
    return applyPaging(q, args.limit as number | undefined, args.offset as number | undefined);
  }

  const names = async (args: Omit<Case, "name" | "expected">) =>
    (await query(args).execute()).map((row) => NAME_OF.get(row.id) ?? row.id);

  describe("where", () => {
    test.each(WHERE_CASES)("$name", async (c) => {
      expect(await names(c)).toEqual(c.expected);
    });
  });

  describe("order_by", () => {
    test.each(ORDER_CASES)("$name", async (c) => {
      expect(await names(c)).toEqual(c.expected);
    });
  });

  describe("limit and offset", () => {
    test.each(PAGING_CASES)("$name", async (c) => {
      expect(await names(c)).toEqual(c.expected);
    });
  });

  describe("errors", () => {
    test.each(ERROR_CASES)("$name", (c) => {
      let error: unknown;
      try {
        query(c);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidUsageError);
      expect((error as InvalidUsageError).code).toBe("INVALID_USAGE");
      expect((error as Error).message).toMatch(c.message);
    });
  });

  test("values reach the database as parameters only", () => {
    const evil = "x'; DROP TABLE project; --";
    const compiled = query({
      where: { name: { _eq: evil }, flow: { name: { _ilike: evil }, project: { name: { _like: evil } } } },
      limit: 7,
      offset: 3,
    }).compile();
    expect(compiled.sql).not.toContain("DROP");
    expect(compiled.parameters).toContain(evil);
    expect(compiled.parameters).toEqual(expect.arrayContaining([7, 3]));
  });

  test("a missing or larger limit is capped at MAX_LIMIT", () => {
    expect(MAX_LIMIT).toBe(10_000);
    expect(query({}).compile().parameters).toEqual([MAX_LIMIT]);
    expect(query({ limit: 50_000 }).compile().parameters).toEqual([MAX_LIMIT]);
    expect(query({ limit: 10 }).compile().parameters).toEqual([10]);
  });

  test("the id tiebreaker is added once", () => {
    const sqlText = query({ orderBy: [{ id: "desc" }] }).compile().sql;
    expect(sqlText.match(/"id"/g)).toHaveLength(2); // select "id" … order by "flow_run"."id" desc
  });
});

describe("likeToGlob", () => {
  test.each([
    ["run-%", "run-*"],
    ["a_b", "a?b"],
    ["100\\%\\_", "100%_"],
    ["[x]*?", "[[]x][*][?]"],
    ["\\\\", "\\"],
    ["\\[", "[[]"],
    ["ünï_%", "ünï?*"],
  ])("%s → %s", (like, glob) => {
    expect(likeToGlob(like)).toBe(glob);
  });
});
