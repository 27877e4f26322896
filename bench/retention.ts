// Benchmark of retention: the server deleting 1,000,000 old log lines while it serves the API, on SQLite
// and PostgreSQL. Prints the API's latency before and during the delete, and how fast the delete goes.
// Asserts nothing.
//
//   npm run build && npm run bench:retention
//   eval "$(bash scripts/testbed/postgres.sh start)" && npm run bench:retention; bash scripts/testbed/postgres.sh stop
//
// The log lines are seeded straight into a fresh database (100 finished runs, 10,000 lines each, dated
// 30 days back), beside 200 recent runs with a few lines each. The built CLI then serves the database
// (`regent server start`) twice: without retention, while one client sends the reads a UI makes (the
// newest runs; a recent run's logs) back to back for a few seconds (the baseline); then with
// `retain_logs = "7d"`, whose first loop starts at once, while the same client keeps reading until the
// old lines are gone.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Database, migrateToLatest, openDatabase } from "@regent/server";
import type { Insertable } from "kysely";
import { Api } from "./api.js";
import { startServerChild } from "./children.js";
import { abort, checkNotAborting, children, guardProcess, onCleanup } from "./cleanup.js";
import { argValue, machine, percentile, round } from "./figures.js";
import { onPostgres } from "./postgres.js";

const OLD_RUNS = 100;
const LINES_PER_OLD_RUN = 10_000;
const RECENT_RUNS = 200;
const BASELINE_MS = 5_000;
/** The delete is given this long at most. */
const DELETE_TIMEOUT_MS = 300_000;
const WATCHDOG_MS = 900_000;
const LOG_CHUNK = 4_000;

const READ_RUNS = `{ flow_run(order_by: [{ created: desc }], limit: 20) { id name state start_time } }`;
const READ_LOGS = `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }, order_by: [{ seq: asc }], limit: 50) { message } }`;

async function seed(url: string, progress: (what: string) => void): Promise<{ recentRunId: string }> {
  const database = await openDatabase(url);
  try {
    await migrateToLatest(database);
    const pg = database.dialect === "postgres";
    const json = (v: unknown) => JSON.stringify(v);
    const bool = (b: boolean) => (pg ? b : b ? 1 : 0);
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const projectId = randomUUID();
    const flowId = randomUUID();
    await database.db
      .insertInto("project")
      .values({ id: projectId, name: "bench", created: iso(now), updated: iso(now) } as never)
      .execute();
    await database.db
      .insertInto("flow")
      .values({
        id: flowId,
        version_group_id: randomUUID(),
        project_id: projectId,
        name: "etl",
        version: 1,
        archived: bool(false),
        labels: json([]),
        schedule_active: bool(true),
        content_hash: "h",
        created: iso(now),
        updated: iso(now),
      } as never)
      .execute();
    const run = (id: string, at: number): Insertable<Database["flow_run"]> => ({
      id,
      flow_id: flowId,
      name: `run-${id.slice(-8)}`,
      parameters: json({}),
      context: json({}),
      labels: json([]),
      scheduled_start_time: iso(at),
      state: "Success",
      state_version: 3,
      state_timestamp: iso(at + 60_000),
      start_time: iso(at),
      end_time: iso(at + 60_000),
      restart_count: 0,
      created: iso(at),
      updated: iso(at + 60_000),
    });
    const old = Array.from({ length: OLD_RUNS }, () => randomUUID());
    const recent = Array.from({ length: RECENT_RUNS }, () => randomUUID());
    const runs = [
      ...old.map((id, i) => run(id, now - 30 * 86_400_000 + i * 1_000)),
      ...recent.map((id, i) => run(id, now - 3_600_000 + i * 1_000)),
    ];
    for (let i = 0; i < runs.length; i += 500)
      await database.db
        .insertInto("flow_run")
        .values(runs.slice(i, i + 500) as never)
        .execute();
    const started = performance.now();
    for (const [r, id] of old.entries()) {
      checkNotAborting();
      const at = now - 30 * 86_400_000 + r * 1_000;
      for (let i = 0; i < LINES_PER_OLD_RUN; i += LOG_CHUNK) {
        const rows = Array.from({ length: Math.min(LOG_CHUNK, LINES_PER_OLD_RUN - i) }, (_, k) => ({
          id: randomUUID(),
          flow_run_id: id,
          task_run_id: null,
          level: "info",
          message: `row ${i + k} of an old run, long enough to look like a real log line`,
          timestamp: iso(at + i + k),
        }));
        await database.db
          .insertInto("log")
          .values(rows as never)
          .execute();
      }
      if ((r + 1) % 20 === 0)
        progress(`seeded ${((r + 1) * LINES_PER_OLD_RUN).toLocaleString("en")} old log lines`);
    }
    const recentLines = recent.flatMap((id, r) =>
      Array.from({ length: 5 }, (_, k) => ({
        id: randomUUID(),
        flow_run_id: id,
        task_run_id: null,
        level: "info",
        message: `recent line ${k}`,
        timestamp: iso(now - 3_600_000 + r * 1_000 + k),
      })),
    );
    await database.db
      .insertInto("log")
      .values(recentLines as never)
      .execute();
    progress(`seeding took ${round((performance.now() - started) / 1000, 1)} s`);
    return { recentRunId: recent[RECENT_RUNS - 1]! };
  } finally {
    await database.close();
  }
}

async function logCount(url: string): Promise<number> {
  const database = await openDatabase(url);
  try {
    const { n } = await database.db
      .selectFrom("log")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(n);
  } finally {
    await database.close();
  }
}

/** Reads back to back until `until()` says stop; returns each request's latency in ms. */
async function readWhile(api: Api, recentRunId: string, until: () => boolean): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; !until(); i++) {
    checkNotAborting();
    const started = performance.now();
    if (i % 2 === 0) await api.request(READ_RUNS);
    else await api.request(READ_LOGS, { id: recentRunId });
    samples.push(performance.now() - started);
  }
  return samples;
}

const latency = (samples: readonly number[]) => ({
  requests: samples.length,
  p50Ms: round(percentile(samples, 50), 2),
  p95Ms: round(percentile(samples, 95), 2),
  p99Ms: round(percentile(samples, 99), 2),
  maxMs: round(Math.max(...samples), 2),
});

async function benchDatabase(url: string, scratch: string, progress: (what: string) => void) {
  const { recentRunId } = await seed(url, progress);
  const before = await logCount(url);
  const plain = join(scratch, "plain.toml");
  writeFileSync(plain, "");
  const baselineServer = await startServerChild({ db: url, configFile: plain, children });
  const baselineApi = new Api(baselineServer.graphqlUrl, baselineServer);
  const baselineEnd = performance.now() + BASELINE_MS;
  const baseline = await readWhile(baselineApi, recentRunId, () => performance.now() > baselineEnd);
  await baselineServer.stop();
  progress(`baseline: ${baseline.length} reads`);

  const retaining = join(scratch, "retention.toml");
  writeFileSync(retaining, '[server]\nretain_logs = "7d"\n');
  const started = performance.now();
  const server = await startServerChild({ db: url, configFile: retaining, children });
  const api = new Api(server.graphqlUrl, server);
  const target = before - OLD_RUNS * LINES_PER_OLD_RUN;
  let done = false;
  // One connection, and a probe that reads at most target + 1 rows: counting a million rows every
  // second would load the machine measured.
  const watch = await openDatabase(url);
  const watcher = (async () => {
    try {
      while (!done) {
        await new Promise((r) => setTimeout(r, 500));
        const { n } = await watch.db
          .selectFrom((eb) =>
            eb
              .selectFrom("log")
              .select("seq")
              .orderBy("seq")
              .limit(target + 1)
              .as("t"),
          )
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .executeTakeFirstOrThrow();
        if (Number(n) <= target || performance.now() - started > DELETE_TIMEOUT_MS) done = true;
      }
    } finally {
      await watch.close();
    }
  })();
  const during = await readWhile(api, recentRunId, () => done);
  await watcher;
  const deleteSeconds = (performance.now() - started) / 1000;
  await server.stop();
  const left = await logCount(url);
  progress(`during the delete: ${during.length} reads`);
  return {
    logLinesBefore: before,
    logLinesAfter: left,
    deleted: before - left,
    deleteSeconds: round(deleteSeconds, 1),
    deletedPerSecond: Math.round((before - left) / deleteSeconds),
    baseline: latency(baseline),
    duringDelete: latency(during),
  };
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const only = argValue("--only");
  const progress = (what: string) => {
    if (!json) process.stderr.write(`… ${what}\n`);
  };
  guardProcess("bench/retention", WATCHDOG_MS);
  const scratch = mkdtempSync(join(tmpdir(), "regent-bench-retention-"));
  const removeScratch = onCleanup(async () => rmSync(scratch, { recursive: true, force: true }));
  const results: Record<string, Awaited<ReturnType<typeof benchDatabase>> | { skipped: string }> = {};
  try {
    if (!only || only === "sqlite") {
      progress("sqlite");
      results.sqlite = await benchDatabase(join(scratch, "regent.db"), scratch, progress);
    }
    if (!only || only === "postgres") {
      results.postgres = await onPostgres((url) => benchDatabase(url, scratch, progress), progress);
    }
  } finally {
    await removeScratch();
  }
  const figures = {
    environment: machine(),
    settings: { oldLogLines: OLD_RUNS * LINES_PER_OLD_RUN, baselineSeconds: BASELINE_MS / 1000 },
    databases: results,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    return;
  }
  const out = [
    "",
    `Regent retention benchmark — ${(OLD_RUNS * LINES_PER_OLD_RUN).toLocaleString("en")} old log lines, node ${process.version}, ${figures.environment.cpus} CPUs (${figures.environment.cpuModel})`,
  ];
  for (const [name, r] of Object.entries(results)) {
    out.push("", name === "sqlite" ? "SQLite" : "PostgreSQL");
    if ("skipped" in r) {
      out.push(`  skipped — ${r.skipped}`);
      continue;
    }
    const row = (what: string, l: ReturnType<typeof latency>) =>
      `  ${what.padEnd(28)} ${String(l.requests).padStart(6)} reads  p50 ${l.p50Ms} ms  p95 ${l.p95Ms} ms  p99 ${l.p99Ms} ms  max ${l.maxMs} ms`;
    out.push(
      `  deleted ${r.deleted.toLocaleString("en")} lines in ${r.deleteSeconds} s (${r.deletedPerSecond.toLocaleString("en")} lines/s), ${r.logLinesAfter.toLocaleString("en")} left`,
      row("API reads, before", r.baseline),
      row("API reads, during the delete", r.duringDelete),
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

main().catch((error) => abort(`bench/retention: ${(error as Error).stack ?? error}`, 1));
