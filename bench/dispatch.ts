// Benchmark of dispatch latency: from the moment `create_flow_run` returns to the moment the flow function's
// first line runs under a local agent. Prints figures, asserts nothing.
//
//   npm run build && npm run bench:dispatch
//
// Everything runs on 127.0.0.1 with SQLite in a temporary directory: the built CLI serves the API
// (`regent server start --port 0`), a tiny flow is registered with `regent register`, and
// `regent agent local start --accept-unlabeled --max-concurrent 4` takes the runs: first with
// `--prestarted 0` (a process started per run: cold starts), then with `--prestarted 2` (the pool of
// pre-started executors). Runs are created one at a time, the next once the previous one's first line ran
// and at least PACE_MS after the previous create (a steady run a second, a pace the pool refills at on 2
// cores: each executor takes most of a core for about 0.7 s to start and load the flow); each flow
// run appends `<flowRunId> <epoch ms>` to a file as its first statement, and the latency of a run is that
// timestamp minus the time its create_flow_run POST returned (both read as
// `performance.timeOrigin + performance.now()`, wall-clock ms with sub-ms precision, on the same machine).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Api } from "./api.js";
import { type CliChild, runCliCommand, startAgentChild, startServerChild } from "./children.js";
import { abort, children, guardProcess, isAborting, onCleanup } from "./cleanup.js";
import { machine, percentile, round } from "./figures.js";

/** Flow runs wanted per mode; fewer when they would not fit in the mode's budget. */
const RUNS = 200;
/** Least time between two creates (the next also waits for the previous run's first line). */
const PACE_MS = 1_000;
/** The modes measured, with the `--prestarted` they give the agent and the time each may take. */
const MODES = [
  { name: "a process started per run (--prestarted 0)", prestarted: 0, budgetMs: 60_000 },
  { name: "pre-started executors (--prestarted 2)", prestarted: 2, budgetMs: 120_000 },
] as const;
/** A run whose line has not appeared after this long counts as timed out (and is left out of the figures). */
const RUN_TIMEOUT_MS = 15_000;
/** How often the timestamp file is read while waiting (does not affect the measured figure). */
const POLL_MS = 2;
const CLI_TIMEOUT_MS = 60_000;
/** Everything is killed if the benchmark takes longer than this. */
const WATCHDOG_MS = 280_000;

const TARGETS = { p50Ms: 30, p95Ms: 100 } as const;

/** The bench folder of the repository (the generated flow lives below it so that its imports resolve). */
const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

// ---------------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** Runs a short CLI command to its end and returns its standard output. */
const runCli = (args: readonly string[]) => runCliCommand({ args, children, timeoutMs: CLI_TIMEOUT_MS });

// ---------------------------------------------------------------------------------------------------
// The benchmark

const CREATE_FLOW_RUN = `mutation($g: uuid!) { create_flow_run(input: { version_group_id: $g }) { id } }`;

async function createFlowRun(api: Api, versionGroupId: string): Promise<string> {
  const { create_flow_run } = await api.request<{ create_flow_run: { id: string } }>(CREATE_FLOW_RUN, {
    g: versionGroupId,
  });
  return create_flow_run.id;
}

/** The generated flow: its first statement appends `<flowRunId> <epoch ms>` to `stampFile`. */
const flowSource = (stampFile: string) => `import { appendFileSync } from "node:fs";
import { flow } from "@regent/sdk";
import { z } from "zod";

export default flow({ name: "dispatch-bench", params: z.object({}) }, async (_params, ctx) => {
  appendFileSync(${JSON.stringify(stampFile)}, \`\${ctx.flowRunId} \${performance.timeOrigin + performance.now()}\\n\`);
  return null;
});
`;

/** Reads the stamp file until the line of `runId` appears; its timestamp, or undefined after the timeout. */
async function waitForStamp(
  stampFile: string,
  runId: string,
  seen: Map<string, number>,
): Promise<number | undefined> {
  const deadline = performance.now() + RUN_TIMEOUT_MS;
  while (!isAborting()) {
    if (existsSync(stampFile)) {
      for (const line of readFileSync(stampFile, "utf8").split("\n")) {
        const [id, t] = line.split(" ");
        if (id && t && !seen.has(id)) seen.set(id, Number(t));
      }
    }
    const t = seen.get(runId);
    if (t !== undefined) return t;
    if (performance.now() > deadline) return undefined;
    await sleep(POLL_MS);
  }
  return undefined;
}

async function main(): Promise<void> {
  const started = performance.now();
  guardProcess("bench/dispatch", WATCHDOG_MS);
  const progress = (line: string) => process.stderr.write(`${line}\n`);

  const scratch = mkdtempSync(join(tmpdir(), "regent-bench-dispatch-"));
  // The flow folder sits inside bench/ so that `@regent/sdk` and `zod` resolve from the repository.
  const flowDir = mkdtempSync(join(BENCH_DIR, ".dispatch-flow-"));
  const removeTemps = onCleanup(async () => {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(flowDir, { recursive: true, force: true });
  });
  const stampFile = join(scratch, "stamps.txt");
  const flowFile = join(flowDir, "dispatch-flow.ts");
  writeFileSync(flowFile, flowSource(stampFile));
  const configFile = join(scratch, "no-config.toml");
  const noConfig = ["--config", configFile];

  let server: CliChild | undefined;
  const results: ModeResult[] = [];
  try {
    progress("starting the server (SQLite, temporary directory)…");
    const child = await startServerChild({ db: join(scratch, "regent.db"), configFile, children });
    server = child;
    const url = child.graphqlUrl;
    const api = new Api(url, child);
    const cli = [...noConfig, "--api", url];
    progress(`server on ${url}; creating project "bench" and registering the flow…`);
    await runCli([...cli, "project", "create", "bench"]);
    const registered = JSON.parse(
      await runCli([...cli, "register", flowFile, "--project", "bench", "--json"]),
    ) as Array<{ id: string; version_group_id: string }>;
    const flow = registered[0];
    if (!flow) throw new Error("regent register registered no flow");
    const seen = new Map<string, number>();
    for (const mode of MODES) {
      if (isAborting()) return;
      results.push(await measureMode(mode, api, cli, flow.version_group_id, stampFile, seen, progress));
    }
  } finally {
    progress("stopping the server…");
    await server?.stop();
    await removeTemps();
  }

  const f = (x: number, digits = 1) =>
    Number.isFinite(x)
      ? x.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits })
      : "n/a";
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const host = machine();
  const out = [
    "",
    `Regent dispatch latency — node ${host.node}, ${host.platform}, ${host.cpus} CPUs (${host.cpuModel})`,
    "",
    `  create_flow_run returned → the flow function's first line ran (local agent, SQLite, 127.0.0.1);`,
    `  runs one at a time, at most one every ${PACE_MS} ms`,
  ];
  for (const r of results) {
    const p50 = percentile(r.latencies, 50);
    const p95 = percentile(r.latencies, 95);
    const pooled = r.prestarted > 0;
    out.push(
      "",
      `  ${r.name}`,
      `    runs measured: ${r.latencies.length} of ${r.created} created${r.created < RUNS ? ` (reduced from ${RUNS} to fit ${r.budgetMs / 1000} s)` : ""}; ${r.timedOut} timed out; ${f(r.seconds)} s`,
      `    p50  ${f(p50).padStart(9)} ms${pooled ? `   target ≤ ${TARGETS.p50Ms} ms   ${verdict(p50 <= TARGETS.p50Ms)}` : ""}`,
      `    p95  ${f(p95).padStart(9)} ms${pooled ? `   target ≤ ${TARGETS.p95Ms} ms  ${verdict(p95 <= TARGETS.p95Ms)}` : ""}`,
      `    p99  ${f(percentile(r.latencies, 99)).padStart(9)} ms`,
      `    max  ${f(r.latencies.length ? Math.max(...r.latencies) : Number.NaN).padStart(9)} ms`,
      `    min  ${f(r.latencies.length ? Math.min(...r.latencies) : Number.NaN).padStart(9)} ms`,
    );
  }
  out.push(
    "",
    "  Pre-started executors have Node, the runtime and a connection to the API ready; the replacement for",
    "  one taken for a run loads that flow's code while it waits, so the next run of the same flow finds it",
    "  loaded (the first run of a flow, and runs arriving faster than executors start, load it themselves).",
    "",
    `  total benchmark time: ${f((performance.now() - started) / 1000)} s`,
    "",
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

interface ModeResult {
  readonly name: string;
  readonly prestarted: number;
  readonly budgetMs: number;
  readonly latencies: number[];
  readonly created: number;
  readonly timedOut: number;
  readonly seconds: number;
}

/** Starts an agent with the mode's `--prestarted`, creates the runs, stops the agent. */
async function measureMode(
  mode: (typeof MODES)[number],
  api: Api,
  cli: readonly string[],
  versionGroupId: string,
  stampFile: string,
  seen: Map<string, number>,
  progress: (line: string) => void,
): Promise<ModeResult> {
  progress(`${mode.name}: starting the local agent (--max-concurrent 4)…`);
  const agent = await startAgentChild({ cli, maxConcurrent: 4, prestarted: mode.prestarted, children });
  const latencies: number[] = [];
  let created = 0;
  let timedOut = 0;
  const phaseStart = performance.now();
  try {
    progress(`${mode.name}: creating up to ${RUNS} flow runs (budget ${mode.budgetMs / 1000} s)…`);
    let lastCreate = -Infinity;
    while (created < RUNS) {
      const elapsed = performance.now() - phaseStart;
      const perRun = created > 0 ? elapsed / created : 0;
      if (elapsed + perRun > mode.budgetMs) break;
      const wait = lastCreate + PACE_MS - performance.now();
      if (wait > 0) await sleep(wait);
      lastCreate = performance.now();
      const runId = await createFlowRun(api, versionGroupId);
      const t0 = now();
      created++;
      const t1 = await waitForStamp(stampFile, runId, seen);
      if (isAborting()) break;
      if (t1 === undefined) {
        timedOut++;
        progress(`  run ${runId}: no line after ${RUN_TIMEOUT_MS / 1000} s (agent ${agent.status()})`);
        if (timedOut >= 3) throw new Error(`3 runs timed out; agent output:\n  ${agent.output()}`);
        continue;
      }
      latencies.push(t1 - t0);
      if (created % 25 === 0) progress(`  ${created} runs, last ${round(t1 - t0, 1)} ms`);
    }
    // Let the last runs finish before the agent is stopped (it waits for runs under way anyway).
    await sleep(1_000);
  } finally {
    progress(`${mode.name}: stopping the agent…`);
    await agent.stop();
  }
  return {
    name: mode.name,
    prestarted: mode.prestarted,
    budgetMs: mode.budgetMs,
    latencies,
    created,
    timedOut,
    seconds: (performance.now() - phaseStart) / 1000,
  };
}

try {
  await main();
} catch (error) {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  await abort("failed", 1);
}
