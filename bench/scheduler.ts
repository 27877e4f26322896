// Benchmark of the server's scheduler with 10,000 active schedules, on SQLite and PostgreSQL: ms and
// database queries per loop. Prints figures, asserts nothing.
//
//   npm run build && npm run bench:scheduler
//   eval "$(bash scripts/testbed/postgres.sh start)" && npm run bench:scheduler; bash scripts/testbed/postgres.sh stop
//
// The scheduler runs in this process on a fresh database, with a simulated clock (so that an hour of
// schedules passes in seconds), exactly as the server runs it. 10,000 flows are registered through the
// store, each with a schedule: a mix of every-minute, every-5-minutes, hourly and daily cron clocks and
// 15-minute intervals (some with two clocks). Figures:
//   - the first loops, which create the 10 runs ahead of every schedule (100,000+ runs);
//   - steady state: the clock advances 5 s per loop (the server's loop interval) through a simulated
//     hour, each loop topping up the schedules whose next run fell due: ms and queries per loop;
//   - an idle loop (nothing due): what each of the server's 5-second loops costs most of the time.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { migrateToLatest, openDatabase, Scheduler, type SchedulerLoop, Store } from "@regent/server";
import { abort, checkNotAborting, guardProcess, onCleanup } from "./cleanup.js";
import { argValue, machine, median, percentile, round } from "./figures.js";
import { onPostgres } from "./postgres.js";

const SCHEDULES = 10_000;
/** The server's scheduler loop interval. */
const LOOP_MS = 5_000;
/** Simulated time of the steady-state figure. */
const STEADY_MS = 3_600_000;
const WATCHDOG_MS = 900_000;
/** Registrations in flight at once while seeding (PostgreSQL's pool has 10 connections). */
const SEED_CONCURRENCY = 8;
const START = new Date("2026-06-01T00:00:30.000Z");

const CLOCKS = [
  { type: "cron", cron: "* * * * *" },
  { type: "cron", cron: "*/5 * * * *" },
  { type: "cron", cron: "0 * * * *" },
  { type: "cron", cron: "30 6 * * *", timezone: "Europe/Paris" },
  { type: "interval", every: "15m" },
] as const;

interface LoopFigures {
  loops: number;
  msTotal: number;
  msPerLoopMedian: number;
  msPerLoopP95: number;
  msPerLoopMax: number;
  queriesPerLoopMedian: number;
  queriesPerLoopMax: number;
  schedulesPlanned: number;
  runsCreated: number;
  /** Of all loops' time, the share spent computing fire times (the rest is the database). */
  planShare: number;
}

function summarise(loops: readonly SchedulerLoop[]): LoopFigures {
  const ms = loops.map((l) => l.ms);
  const queries = loops.map((l) => l.queries);
  return {
    loops: loops.length,
    msTotal: round(
      ms.reduce((a, b) => a + b, 0),
      1,
    ),
    msPerLoopMedian: round(median(ms), 2),
    msPerLoopP95: round(percentile(ms, 95), 2),
    msPerLoopMax: round(Math.max(...ms), 2),
    queriesPerLoopMedian: median(queries),
    queriesPerLoopMax: Math.max(...queries),
    schedulesPlanned: loops.reduce((n, l) => n + l.schedules, 0),
    runsCreated: loops.reduce((n, l) => n + l.created, 0),
    planShare: round(
      loops.reduce((n, l) => n + l.planMs, 0) /
        Math.max(
          1e-9,
          ms.reduce((a, b) => a + b, 0),
        ),
      2,
    ),
  };
}

type DatabaseFigures = Awaited<ReturnType<typeof benchDatabase>>;

async function benchDatabase(url: string, progress: (what: string) => void) {
  const database = await openDatabase(url);
  try {
    await migrateToLatest(database);
    let now = START;
    const clock = () => now;
    const store = new Store(database, clock);
    const project = await store.createProject("bench");
    const seedStarted = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: SEED_CONCURRENCY }, async () => {
        for (let i = next++; i < SCHEDULES; i = next++) {
          checkNotAborting();
          const clocks = i % 10 === 9 ? [CLOCKS[i % 5]!, CLOCKS[(i + 2) % 5]!] : [CLOCKS[i % 5]!];
          await store.registerFlow({
            projectId: project.id as string,
            name: `scheduled-${i}`,
            schedule: { clocks },
            contentHash: `h${i}`,
          });
        }
      }),
    );
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    progress(`${SCHEDULES} schedules registered in ${round(seedSeconds, 1)} s`);

    const scheduler = new Scheduler({ database, store, clock });
    const first: SchedulerLoop[] = [];
    for (;;) {
      checkNotAborting();
      const loop = await scheduler.loop();
      first.push(loop);
      if (loop.schedules === 0) break;
    }
    progress(`first loops: ${first.reduce((n, l) => n + l.created, 0)} runs created`);

    const steady: SchedulerLoop[] = [];
    for (let t = LOOP_MS; t <= STEADY_MS; t += LOOP_MS) {
      checkNotAborting();
      now = new Date(START.getTime() + t);
      steady.push(await scheduler.loop());
    }
    progress(`steady state: ${steady.length} loops over a simulated hour`);
    const idle: SchedulerLoop[] = [];
    for (let i = 0; i < 20; i++) idle.push(await scheduler.loop());

    const { count } = await database.db
      .selectFrom("flow_run")
      .select((eb) => eb.fn.countAll<string>().as("count"))
      .executeTakeFirstOrThrow();
    const duplicates = await database.db
      .selectFrom("flow_run")
      .select(["flow_id", "scheduled_start_time"])
      .groupBy(["flow_id", "scheduled_start_time", "idempotency_key"])
      .having((eb) => eb.fn.countAll(), ">", 1)
      .execute();
    return {
      seedSeconds: round(seedSeconds, 1),
      firstLoops: summarise(first.slice(0, -1)),
      steady: summarise(steady),
      idle: summarise(idle),
      runsInDatabase: Number(count),
      duplicateRuns: duplicates.length,
    };
  } finally {
    await database.close();
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const only = argValue("--only");
  const progress = (what: string) => {
    if (!json) process.stderr.write(`… ${what}\n`);
  };
  guardProcess("bench/scheduler", WATCHDOG_MS);
  const results: Record<string, DatabaseFigures | { skipped: string }> = {};
  if (!only || only === "sqlite") {
    const scratch = mkdtempSync(join(tmpdir(), "regent-bench-scheduler-"));
    const remove = onCleanup(async () => rmSync(scratch, { recursive: true, force: true }));
    try {
      progress("sqlite");
      results.sqlite = await benchDatabase(join(scratch, "regent.db"), progress);
    } finally {
      await remove();
    }
  }
  if (!only || only === "postgres") {
    results.postgres = await onPostgres((url) => benchDatabase(url, progress), progress);
  }
  const figures = {
    environment: machine(),
    settings: { schedules: SCHEDULES, loopMs: LOOP_MS, simulatedSeconds: STEADY_MS / 1000, clocks: CLOCKS },
    databases: results,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    return;
  }
  const out = [
    "",
    `Regent scheduler benchmark — ${SCHEDULES.toLocaleString("en")} active schedules, node ${process.version}, ${figures.environment.cpus} CPUs (${figures.environment.cpuModel})`,
  ];
  for (const [name, r] of Object.entries(results)) {
    out.push("", name === "sqlite" ? "SQLite" : "PostgreSQL");
    if ("skipped" in r) {
      out.push(`  skipped — ${r.skipped}`);
      continue;
    }
    const row = (what: string, l: LoopFigures) =>
      `  ${what.padEnd(44)} ${String(l.loops).padStart(4)} loops  ms/loop median ${l.msPerLoopMedian} p95 ${l.msPerLoopP95} max ${l.msPerLoopMax}  queries/loop median ${l.queriesPerLoopMedian} max ${l.queriesPerLoopMax}  planned ${l.schedulesPlanned}  created ${l.runsCreated}  planning ${Math.round(l.planShare * 100)}%`;
    out.push(
      `  seeding: ${SCHEDULES} registrations in ${r.seedSeconds} s`,
      row(`first loops (10 runs ahead each; ${r.firstLoops.msTotal} ms total)`, r.firstLoops),
      row("steady state (5 s loops, a simulated hour)", r.steady),
      row("idle loop (nothing due)", r.idle),
      `  runs in the database: ${r.runsInDatabase.toLocaleString("en")}; duplicate runs: ${r.duplicateRuns}`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

main().catch((error) => abort(`bench/scheduler: ${(error as Error).stack ?? error}`, 1));
