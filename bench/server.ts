// Benchmark of the Regent server's GraphQL API, on SQLite and on PostgreSQL: prints figures, asserts nothing.
//
//   npm run build && npm run bench:server     # table
//   node bench/dist/server.js --json          # machine-readable figures
//
// Each server runs in a child process (`regent server start --port 0`, the built CLI) so that its RSS can be
// read from /proc/<pid>/status, and all traffic goes to 127.0.0.1 through fetch (keep-alive). PostgreSQL is
// measured when REGENT_TEST_PG_URL names a server where a database may be created (a fresh one is created
// and dropped afterwards): `eval "$(bash scripts/testbed/postgres.sh start)"` gives a throwaway cluster.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { type Database, openDatabase, type RegentDatabase } from "@regent/server";
import type { Insertable } from "kysely";
import { Api } from "./api.js";
import { CLI, startServerChild } from "./children.js";
import { abort, checkNotAborting, children, guardProcess, onCleanup } from "./cleanup.js";
import { argValue, machine, percentile, round } from "./figures.js";
import { createPostgresDatabase, PG_HOWTO } from "./postgres.js";

/** create_flow_run mutations measured (after the warm-ups), spread over CLIENTS concurrent clients. */
const CREATE_RUNS = 2_000;
const CREATE_WARMUPS = 100;
/** Concurrent HTTP clients of the throughput figures. */
const CLIENTS = 8;
/** Batch sizes of set_task_run_states, and how many state writes each is given at most (two per task run). */
const WRITE_BATCHES = [1, 10, 100] as const;
const WRITES_PER_BATCH_SIZE: Record<(typeof WRITE_BATCHES)[number], number> = {
  1: 4_000,
  10: 16_000,
  100: 40_000,
};
/** create_task_runs request size used to make the task runs before each write figure. */
const CREATE_TASK_RUNS_BATCH = 500;
/** Due runs created for the claim figure, then claims timed one after the other (after warm-ups). */
const CLAIM_DUE_RUNS = 500;
const CLAIM_WARMUPS = 20;
const CLAIMS = 400;
/** Flow runs inserted straight into the database for the "RSS with 100,000 runs" figure. */
const SEED_RUNS = 100_000;
const SEED_CHUNK = 1_000;
/** Reads the server answers over the seeded runs before its RSS is read, each repeated this often. */
const READ_REPS = 3;

/** A throughput or latency figure stops issuing requests after this long (keeps slow machines bounded). */
const PHASE_BUDGET_MS = 8_000;
/**
 * Idle RSS is read twice with no request in between: just after start, and once V8 has settled (its
 * memory reducer compacts the heap and shrinks the young generation about 8 s after start-up).
 */
const IDLE_JUST_STARTED_MS = 1_000;
const IDLE_SETTLED_MS = 12_000;
/** Everything is killed (server children, PostgreSQL database dropped) if the run takes longer than this. */
const WATCHDOG_MS = 200_000;

/** The issue's targets, printed next to the figures. */
const TARGETS = { batchedTaskRunWritesPerSecond: 5_000, idleRssMB: 80 } as const;

// ---------------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Latency {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const latency = (ms: readonly number[]): Latency => ({
  samples: ms.length,
  p50Ms: round(percentile(ms, 50), 3),
  p95Ms: round(percentile(ms, 95), 3),
  p99Ms: round(percentile(ms, 99), 3),
  maxMs: round(Math.max(...ms), 3),
});

/** Runs `clients` loops at once; each calls `step` until it returns false. */
async function concurrently(clients: number, step: (client: number) => Promise<boolean>): Promise<void> {
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (await step(client)) {}
    }),
  );
}

/** VmRSS and VmHWM (peak) of a process, in MB, from /proc/<pid>/status; null where there is no /proc. */
function memoryOf(pid: number): { rssMB: number; hwmMB: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1]);
  const rss = kib("VmRSS");
  const hwm = kib("VmHWM");
  return Number.isFinite(rss) && Number.isFinite(hwm)
    ? { rssMB: round(rss / 1024, 1), hwmMB: round(hwm / 1024, 1) }
    : null;
}

const M = {
  createProject: `mutation($name: String!) { create_project(input: { name: $name }) { id } }`,
  registerFlow: `mutation($p: uuid!) { register_flow(input: { project_id: $p, name: "bench", content_hash: "v1" }) { id } }`,
  createFlowRun: `mutation($f: uuid!) { create_flow_run(input: { flow_id: $f, parameters: { n: 1 } }) { id } }`,
  createTaskRuns: `mutation($runs: [create_task_run_input!]!) { create_task_runs(input: { task_runs: $runs }) { count } }`,
  setTaskRunStates: `mutation($states: [set_task_run_state_input!]!) { set_task_run_states(input: { states: $states }) { states { status version code message } } }`,
  registerAgent: `mutation { register_agent(input: { name: "bench-agent", type: "bench" }) { id } }`,
  claim: `mutation($a: uuid!) { claim_flow_runs(input: { agent_id: $a, limit: 1 }) { flow_runs { id } } }`,
  countRuns: `query($w: flow_run_bool_exp) { flow_run_aggregate(where: $w) { aggregate { count } } }`,
  latestRuns: `{ flow_run(limit: 100, order_by: [{ created: desc }]) { id name state parameters labels scheduled_start_time end_time } }`,
};

// ---------------------------------------------------------------------------------------------------
// The figures

interface Throughput {
  readonly requests: number;
  readonly items: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly requestLatency: Latency;
}

/** create_flow_run from CLIENTS clients: CREATE_WARMUPS unmeasured, then CREATE_RUNS (or PHASE_BUDGET_MS). */
async function measureCreates(api: Api, flowId: string): Promise<{ figure: Throughput; runIds: string[] }> {
  const runIds: string[] = [];
  const create = async () => {
    const d = await api.request<{ create_flow_run: { id: string } }>(M.createFlowRun, { f: flowId });
    runIds.push(d.create_flow_run.id);
  };
  let warm = 0;
  await concurrently(CLIENTS, async () => {
    if (warm >= CREATE_WARMUPS) return false;
    warm++;
    await create();
    return true;
  });
  const samples: number[] = [];
  let issued = 0;
  const t0 = performance.now();
  await concurrently(CLIENTS, async () => {
    if (issued >= CREATE_RUNS || performance.now() - t0 > PHASE_BUDGET_MS) return false;
    issued++;
    const s = performance.now();
    await create();
    samples.push(performance.now() - s);
    return true;
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    figure: {
      requests: samples.length,
      items: samples.length,
      seconds: round(seconds, 3),
      perSecond: round(samples.length / seconds, 1),
      requestLatency: latency(samples),
    },
    runIds,
  };
}

interface WriteFigure extends Throughput {
  readonly batch: number;
  readonly taskRunsCreated: number;
  readonly createTaskRunsSeconds: number;
}

/**
 * Task-run state writes through set_task_run_states in batches of `batch`: the task runs are created first
 * (Pending, version 1); each client then takes `batch` of them, moves them to Running (version 1 → 2) in one
 * request and to Success (2 → 3) in the next, until they are used up or PHASE_BUDGET_MS has passed.
 */
async function measureWrites(api: Api, batch: number, flowRunIds: readonly string[]): Promise<WriteFigure> {
  const taskRuns = Math.floor(WRITES_PER_BATCH_SIZE[batch as (typeof WRITE_BATCHES)[number]] / 2);
  const ids = Array.from({ length: taskRuns }, () => randomUUID());
  const c0 = performance.now();
  let offset = 0;
  let created = 0;
  await concurrently(4, async () => {
    if (offset >= ids.length) return false;
    const chunk = ids.slice(offset, offset + CREATE_TASK_RUNS_BATCH);
    const base = offset;
    offset += chunk.length;
    const runs = chunk.map((id, i) => ({
      id,
      flow_run_id: flowRunIds[(base + i) % flowRunIds.length],
      task_key: `bench-${batch}`,
      task_name: "noop",
      map_index: base + i,
    }));
    const d = await api.request<{ create_task_runs: { count: number } }>(M.createTaskRuns, { runs });
    created += d.create_task_runs.count;
    return true;
  });
  const createTaskRunsSeconds = (performance.now() - c0) / 1000;
  if (created !== taskRuns) throw new Error(`create_task_runs created ${created} of ${taskRuns} task runs`);

  const samples: number[] = [];
  let next = 0;
  let writes = 0;
  const t0 = performance.now();
  const send = async (chunk: readonly string[], version: number, type: string) => {
    const states = chunk.map((id) => ({ id: randomUUID(), task_run_id: id, version, state: { type } }));
    const s = performance.now();
    const d = await api.request<{
      set_task_run_states: { states: Array<{ status: string; code: string | null; message: string | null }> };
    }>(M.setTaskRunStates, { states });
    samples.push(performance.now() - s);
    const refused = d.set_task_run_states.states.find((r) => r.status !== "SUCCESS");
    if (refused) throw new Error(`a ${type} write was refused: ${refused.code} ${refused.message}`);
    writes += chunk.length;
  };
  await concurrently(CLIENTS, async () => {
    if (next >= ids.length || performance.now() - t0 > PHASE_BUDGET_MS) return false;
    const chunk = ids.slice(next, next + batch);
    next += chunk.length;
    await send(chunk, 1, "Running");
    await send(chunk, 2, "Success");
    return true;
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    batch,
    taskRunsCreated: created,
    createTaskRunsSeconds: round(createTaskRunsSeconds, 3),
    requests: samples.length,
    items: writes,
    seconds: round(seconds, 3),
    perSecond: round(writes / seconds, 1),
    requestLatency: latency(samples),
  };
}

interface ClaimFigure extends Latency {
  readonly dueRunsAtStart: number;
  readonly claimed: number;
  readonly empty: number;
}

/** Registers an agent, creates CLAIM_DUE_RUNS due runs, then times claim_flow_runs(limit: 1) one at a time. */
async function measureClaims(api: Api, flowId: string): Promise<ClaimFigure> {
  const agent = await api.request<{ register_agent: { id: string } }>(M.registerAgent);
  const agentId = agent.register_agent.id;
  let made = 0;
  await concurrently(CLIENTS, async () => {
    if (made >= CLAIM_DUE_RUNS) return false;
    made++;
    await api.request(M.createFlowRun, { f: flowId });
    return true;
  });
  const due = await api.request<{ flow_run_aggregate: { aggregate: { count: number } } }>(M.countRuns, {
    w: { state: { _eq: "Scheduled" } },
  });
  const claim = async () => {
    const d = await api.request<{ claim_flow_runs: { flow_runs: unknown[] } }>(M.claim, { a: agentId });
    return d.claim_flow_runs.flow_runs.length;
  };
  for (let i = 0; i < CLAIM_WARMUPS; i++) await claim();
  const samples: number[] = [];
  let claimed = 0;
  let empty = 0;
  const t0 = performance.now();
  while (samples.length < CLAIMS && performance.now() - t0 < PHASE_BUDGET_MS) {
    const s = performance.now();
    const n = await claim();
    samples.push(performance.now() - s);
    if (n === 0) empty++;
    claimed += n;
  }
  return { ...latency(samples), dueRunsAtStart: due.flow_run_aggregate.aggregate.count, claimed, empty };
}

/**
 * Inserts SEED_RUNS finished flow runs (and their one state each) straight into the database, in chunks of
 * SEED_CHUNK rows in one transaction: much faster than the API, and it is the server's memory that is measured.
 */
async function seedFlowRuns(database: RegentDatabase, flowId: string): Promise<number> {
  const t0 = performance.now();
  const now = Date.now();
  const json = (v: unknown) => JSON.stringify(v);
  await database.db.transaction().execute(async (tx) => {
    for (let start = 0; start < SEED_RUNS; start += SEED_CHUNK) {
      const runs: Insertable<Database["flow_run"]>[] = [];
      const states: Insertable<Database["flow_run_state"]>[] = [];
      for (let i = start; i < Math.min(SEED_RUNS, start + SEED_CHUNK); i++) {
        const id = randomUUID();
        // Spread over the last 30 days, so that ordering by `created` has something to sort.
        const created = new Date(now - 30 * 86_400_000 + i * ((30 * 86_400_000) / SEED_RUNS)).toISOString();
        const ended = new Date(Date.parse(created) + 1_000).toISOString();
        runs.push({
          id,
          flow_id: flowId,
          name: `seeded-${i}`,
          parameters: json({ n: i }),
          context: json({}),
          labels: json([]),
          run_config: null,
          scheduled_start_time: created,
          state: "Success",
          state_message: "seeded",
          state_version: 1,
          state_timestamp: ended,
          start_time: created,
          end_time: ended,
          idempotency_key: null,
          agent_id: null,
          heartbeat: null,
          restart_count: 0,
          created,
          updated: ended,
        });
        states.push({
          id: randomUUID(),
          flow_run_id: id,
          state: "Success",
          message: "seeded",
          timestamp: ended,
          data: null,
          version: 1,
        });
      }
      await tx.insertInto("flow_run").values(runs).execute();
      await tx.insertInto("flow_run_state").values(states).execute();
    }
  });
  return (performance.now() - t0) / 1000;
}

// ---------------------------------------------------------------------------------------------------
// One database

type Memory = { rssMB: number; hwmMB: number } | null;

interface DatabaseFigures {
  readonly database: "sqlite" | "postgres";
  readonly where: string;
  readonly createFlowRun: Throughput;
  readonly taskRunStateWrites: WriteFigure[];
  readonly claim: ClaimFigure;
  readonly rss: {
    readonly justStarted: Memory;
    readonly idle: Memory;
    readonly afterLoad: Memory;
    readonly after100k: Memory;
    readonly seededRuns: number;
    readonly flowRunsInDatabase: number;
    readonly seedSeconds: number;
    readonly countMs: number[];
    readonly latest100Ms: number[];
  };
  readonly seconds: number;
}

interface Target {
  readonly kind: "sqlite" | "postgres";
  /** The URL the server is given (and the benchmark seeds through). */
  readonly url: string;
  /** Printed in place of the URL. */
  readonly where: string;
}

async function benchDatabase(
  target: Target,
  scratch: string,
  cpuProfDir: string | undefined,
  progress: (what: string) => void,
): Promise<DatabaseFigures> {
  const started = performance.now();
  progress(`${target.kind}: starting the server (${target.where})`);
  checkNotAborting();
  const server = await startServerChild({
    db: target.url,
    configFile: join(scratch, "no-config.toml"),
    children,
    cpuProfDir,
  });
  const stopServer = onCleanup(() => server.stop());
  try {
    await sleep(IDLE_JUST_STARTED_MS);
    const justStarted = memoryOf(server.pid);
    progress(`${target.kind}: idle for ${IDLE_SETTLED_MS / 1000} s (RSS readings)`);
    await sleep(IDLE_SETTLED_MS - IDLE_JUST_STARTED_MS);
    const idle = memoryOf(server.pid);
    const api = new Api(server.graphqlUrl, server);

    const p = await api.request<{ create_project: { id: string } }>(M.createProject, { name: "bench" });
    const f = await api.request<{ register_flow: { id: string } }>(M.registerFlow, {
      p: p.create_project.id,
    });
    const flowId = f.register_flow.id;

    progress(`${target.kind}: create_flow_run × ${CREATE_RUNS.toLocaleString("en")}, ${CLIENTS} clients`);
    const creates = await measureCreates(api, flowId);
    const flowRunIds = creates.runIds.slice(0, 64);

    const writes: WriteFigure[] = [];
    for (const batch of WRITE_BATCHES) {
      progress(`${target.kind}: set_task_run_states in batches of ${batch}, ${CLIENTS} clients`);
      writes.push(await measureWrites(api, batch, flowRunIds));
    }

    progress(`${target.kind}: claim_flow_runs(limit: 1) latency`);
    const claim = await measureClaims(api, flowId);
    const afterLoad = memoryOf(server.pid);

    progress(
      `${target.kind}: seeding ${SEED_RUNS.toLocaleString("en")} flow runs straight into the database`,
    );
    const database = await openDatabase(target.url);
    let seedSeconds: number;
    try {
      seedSeconds = await seedFlowRuns(database, flowId);
    } finally {
      await database.close();
    }
    await sleep(100); // lets this process notice the kept-alive sockets the server closed meanwhile
    const countMs: number[] = [];
    const latest100Ms: number[] = [];
    let inDatabase = 0;
    for (let i = 0; i < READ_REPS; i++) {
      let s = performance.now();
      const c = await api.request<{ flow_run_aggregate: { aggregate: { count: number } } }>(M.countRuns);
      countMs.push(round(performance.now() - s, 3));
      inDatabase = c.flow_run_aggregate.aggregate.count;
      s = performance.now();
      const l = await api.request<{ flow_run: unknown[] }>(M.latestRuns);
      latest100Ms.push(round(performance.now() - s, 3));
      if (l.flow_run.length !== 100)
        throw new Error(`flow_run(limit: 100) returned ${l.flow_run.length} rows`);
    }
    const after100k = memoryOf(server.pid);

    return {
      database: target.kind,
      where: target.where,
      createFlowRun: creates.figure,
      taskRunStateWrites: writes,
      claim,
      rss: {
        justStarted,
        idle,
        afterLoad,
        after100k,
        seededRuns: SEED_RUNS,
        flowRunsInDatabase: inDatabase,
        seedSeconds: round(seedSeconds, 2),
        countMs,
        latest100Ms,
      },
      seconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    progress(`${target.kind}: stopping the server`);
    await stopServer();
  }
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const only = argValue("--only");
  const cpuProfArg = argValue("--cpu-prof");
  const cpuProfDir = cpuProfArg ? resolve(cpuProfArg) : undefined;
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const started = performance.now();
  const progress = (what: string) => {
    if (!json) process.stderr.write(`… ${what}\n`);
  };
  guardProcess("bench/server", WATCHDOG_MS);

  const scratch = mkdtempSync(join(tmpdir(), "regent-bench-server-"));
  const removeScratch = onCleanup(async () => rmSync(scratch, { recursive: true, force: true }));
  const results: Record<string, DatabaseFigures | { skipped: string } | { error: string }> = {};
  try {
    if (!only || only === "sqlite") {
      const path = join(scratch, "regent.db");
      try {
        results.sqlite = await benchDatabase(
          { kind: "sqlite", url: path, where: "a file in a temp dir" },
          scratch,
          cpuProfDir,
          progress,
        );
      } catch (error) {
        results.sqlite = { error: (error as Error).stack ?? String(error) };
      }
    }
    if (!only || only === "postgres") {
      const adminUrl = process.env.REGENT_TEST_PG_URL;
      if (!adminUrl) {
        results.postgres = { skipped: `REGENT_TEST_PG_URL is not set; to measure PostgreSQL: ${PG_HOWTO}` };
      } else {
        try {
          const pgdb = await createPostgresDatabase(adminUrl);
          try {
            const host = new URL(adminUrl).host;
            results.postgres = await benchDatabase(
              { kind: "postgres", url: pgdb.url, where: `database ${pgdb.name} on ${host}, dropped after` },
              scratch,
              cpuProfDir,
              progress,
            );
          } finally {
            progress(`postgres: dropping database ${pgdb.name}`);
            await pgdb.drop();
          }
        } catch (error) {
          results.postgres = { error: (error as Error).stack ?? String(error) };
        }
      }
    }
  } finally {
    await removeScratch();
  }
  const totalSeconds = (performance.now() - started) / 1000;

  const figures = {
    environment: machine(),
    settings: {
      clients: CLIENTS,
      createFlowRuns: CREATE_RUNS,
      createWarmups: CREATE_WARMUPS,
      writeBatches: WRITE_BATCHES,
      writesPerBatchSize: WRITES_PER_BATCH_SIZE,
      claimDueRuns: CLAIM_DUE_RUNS,
      claims: CLAIMS,
      claimWarmups: CLAIM_WARMUPS,
      seedRuns: SEED_RUNS,
      phaseBudgetSeconds: PHASE_BUDGET_MS / 1000,
      cpuProfileDir: cpuProfDir ?? null,
    },
    databases: results,
    targets: TARGETS,
    totalSeconds: round(totalSeconds, 1),
  };
  const failed = Object.values(results).some((r) => "error" in r);
  if (failed) process.exitCode = 1;

  if (json) {
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    return;
  }

  const f = (x: number, digits = 0) =>
    Number.isFinite(x)
      ? x.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits })
      : "n/a";
  const mb = (m: Memory, which: "rssMB" | "hwmMB" = "rssMB") =>
    m ? `${f(m[which], 1)} MB` : "n/a (no /proc)";
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const out: string[] = [
    "",
    `Regent server benchmark — node ${process.version}, ${figures.environment.platform}, ${figures.environment.cpus} CPUs (${figures.environment.cpuModel})`,
  ];
  for (const [name, r] of Object.entries(results)) {
    const title = name === "sqlite" ? "SQLite" : "PostgreSQL";
    out.push("");
    if ("skipped" in r) {
      out.push(`${title}: skipped — ${r.skipped}`);
      continue;
    }
    if ("error" in r) {
      out.push(`${title}: FAILED — ${r.error}`);
      continue;
    }
    const bestBatched = Math.max(...r.taskRunStateWrites.filter((w) => w.batch > 1).map((w) => w.perSecond));
    const rows: Array<[string, string, string, string]> = [
      ["figure", "measured", "target", ""],
      [
        `create_flow_run (${f(r.createFlowRun.requests)} mutations, ${CLIENTS} clients)`,
        `${f(r.createFlowRun.perSecond)} /s`,
        "—",
        "",
      ],
      ...r.taskRunStateWrites.map((w): [string, string, string, string] => [
        `set_task_run_states, batches of ${w.batch} (${f(w.items)} writes)`,
        `${f(w.perSecond)} writes/s`,
        w.batch > 1 ? `≥ ${f(TARGETS.batchedTaskRunWritesPerSecond)} /s` : "—",
        w.batch > 1 ? verdict(w.perSecond >= TARGETS.batchedTaskRunWritesPerSecond) : "",
      ]),
      [
        `claim_flow_runs(limit: 1), p50 / p95 / p99 (${f(r.claim.samples)} claims)`,
        `${f(r.claim.p50Ms, 1)} / ${f(r.claim.p95Ms, 1)} / ${f(r.claim.p99Ms, 1)} ms`,
        "—",
        "",
      ],
      [`server RSS ${IDLE_JUST_STARTED_MS / 1000} s after start`, mb(r.rss.justStarted), "—", ""],
      [
        `server RSS idle (${IDLE_SETTLED_MS / 1000} s after start, no requests)`,
        mb(r.rss.idle),
        `≤ ${TARGETS.idleRssMB} MB`,
        r.rss.idle ? verdict(r.rss.idle.rssMB <= TARGETS.idleRssMB) : "",
      ],
      ["server RSS after the load above", mb(r.rss.afterLoad), "—", ""],
      [
        `server RSS with ${f(r.rss.flowRunsInDatabase)} flow runs, after reading them`,
        mb(r.rss.after100k),
        "—",
        "",
      ],
      ["server peak RSS (VmHWM) over the whole run", mb(r.rss.after100k, "hwmMB"), "—", ""],
    ];
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((row) => row[c]!.length)));
    const line = (row: readonly string[]) =>
      `  ${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padStart(widths[1]!)}  ${row[2]!.padEnd(widths[2]!)}  ${row[3]!}`.trimEnd();
    const med = (xs: number[]) => percentile(xs, 50);
    out.push(
      `${title} (${r.where}) — ${f(r.seconds, 1)} s`,
      "",
      line(rows[0]!),
      `  ${widths.map((w) => "-".repeat(w)).join("  ")}`,
      ...rows.slice(1).map(line),
      "",
      `  best batched task-run state writes: ${f(bestBatched)} /s (target ≥ ${f(TARGETS.batchedTaskRunWritesPerSecond)} /s: ${verdict(bestBatched >= TARGETS.batchedTaskRunWritesPerSecond)})`,
      `  request p50 / p99: create_flow_run ${f(r.createFlowRun.requestLatency.p50Ms, 1)} / ${f(r.createFlowRun.requestLatency.p99Ms, 1)} ms; ` +
        r.taskRunStateWrites
          .map((w) => `batch ${w.batch} ${f(w.requestLatency.p50Ms, 1)} / ${f(w.requestLatency.p99Ms, 1)} ms`)
          .join(", "),
      `  create_task_runs before the writes: ${r.taskRunStateWrites.map((w) => `${f(w.taskRunsCreated)} in ${f(w.createTaskRunsSeconds, 2)} s`).join(", ")}`,
      `  claims: ${f(r.claim.dueRunsAtStart)} due runs at start, ${f(r.claim.claimed)} claimed, ${r.claim.empty} empty answers`,
      `  seeding ${f(r.rss.seededRuns)} flow runs (direct inserts, with their states): ${f(r.rss.seedSeconds, 2)} s; then, median of ${READ_REPS}: ` +
        `flow_run_aggregate count ${f(med(r.rss.countMs), 1)} ms, flow_run(limit: 100, order_by created desc) ${f(med(r.rss.latest100Ms), 1)} ms`,
    );
  }
  out.push(
    "",
    `  MB = 1024 × 1024 bytes, VmRSS / VmHWM of the server child from /proc/<pid>/status. Writes: each task run goes`,
    "  Pending → Running → Success, one state write each, carrying the version it read and a client-made id.",
    `  Each throughput or latency figure stops issuing requests after ${PHASE_BUDGET_MS / 1000} s.`,
    "",
    `  total benchmark time: ${f(totalSeconds, 1)} s`,
    "",
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  await abort("failed", 1);
}
