// Benchmark of dispatch latency: from the moment `create_flow_run` returns to the moment the flow function's
// first line runs under a local agent. Prints figures, asserts nothing.
//
//   npm run build && npm run bench:dispatch
//
// Everything runs on 127.0.0.1 with SQLite in a temporary directory: the built CLI serves the API
// (`regent server start --port 0`), a tiny flow is registered with `regent register`, and
// `regent agent local start --accept-unlabeled --max-concurrent 4` takes the runs. Runs are created one at a
// time; each flow run appends `<flowRunId> <epoch ms>` to a file as its first statement, and the latency of a
// run is that timestamp minus the time its create_flow_run POST returned (both read as
// `performance.timeOrigin + performance.now()`, wall-clock ms with sub-ms precision, on the same machine).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

/** Flow runs wanted; fewer when they would not fit in DISPATCH_BUDGET_MS. */
const RUNS = 200;
/** The runs stop being created once this much time has gone by (or would go by with one more run). */
const DISPATCH_BUDGET_MS = 120_000;
/** A run whose line has not appeared after this long counts as timed out (and is left out of the figures). */
const RUN_TIMEOUT_MS = 15_000;
/** How often the timestamp file is read while waiting (does not affect the measured figure). */
const POLL_MS = 2;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const CLI_TIMEOUT_MS = 60_000;
/** Everything is killed if the benchmark takes longer than this. */
const WATCHDOG_MS = 175_000;

const TARGETS = { p50Ms: 30, p95Ms: 100 } as const;

const CLI = fileURLToPath(new URL("../../packages/cli/bin/regent.js", import.meta.url));
/** The bench folder of the repository (the generated flow lives below it so that its imports resolve). */
const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

// ---------------------------------------------------------------------------------------------------
// Helpers

const round = (x: number, digits = 2) => Number(x.toFixed(digits));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** Nearest-rank percentile (p in 0–100) of unsorted samples. */
function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

// ---------------------------------------------------------------------------------------------------
// Cleanup: children are killed and temporary files removed whatever happens (errors, signals, watchdog).

const children = new Set<ChildProcess>();
const tempPaths = new Set<string>();

function removeTemps(): void {
  for (const path of tempPaths) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {}
  }
  tempPaths.clear();
}

let aborting = false;
function abort(reason: string, exitCode: number): void {
  if (aborting) return;
  aborting = true;
  process.stderr.write(`\nbench/dispatch: ${reason}: stopping the children and cleaning up…\n`);
  for (const child of children) child.kill("SIGKILL");
  removeTemps();
  process.exit(exitCode);
}

process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  removeTemps();
});
process.once("SIGINT", () => abort("interrupted (SIGINT)", 130));
process.once("SIGTERM", () => abort("terminated (SIGTERM)", 143));

// ---------------------------------------------------------------------------------------------------
// Children

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("REGENT__")) env[k] = v;
  env.NO_COLOR = "1";
  return env;
}

interface LongChild {
  readonly pid: number;
  /** The first match of `pattern` in its output. */
  readonly match: RegExpExecArray;
  output(): string;
  status(): string;
  stop(): Promise<void>;
}

/** Starts a long-running CLI child and waits until its stdout or stderr matches `ready`. */
function startChild(what: string, args: readonly string[], ready: RegExp): Promise<LongChild> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  child.once("exit", () => children.delete(child));
  const onData = (d: string) => {
    out = (out + d).slice(-16_000);
  };
  child.stdout!.setEncoding("utf8").on("data", onData);
  child.stderr!.setEncoding("utf8").on("data", onData);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  return new Promise<LongChild>((resolvePromise, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${what} ${why}\n  output: ${out.trim()}`));
    };
    const timer = setTimeout(() => fail(`was not ready in ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.once("error", (error) => fail(`could not be started: ${error.message}`));
    child.once("exit", (code, signal) => fail(`exited with ${signal ?? `code ${code}`} before it was ready`));
    const check = () => {
      const match = ready.exec(out);
      if (settled || !match || child.pid === undefined) return;
      settled = true;
      clearTimeout(timer);
      resolvePromise({
        pid: child.pid,
        match,
        output: () => out.trim(),
        status: () =>
          child.exitCode === null && child.signalCode === null
            ? "running"
            : `exited with ${child.signalCode ?? `code ${child.exitCode}`}`,
        stop,
      });
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
  });
}

/** Runs a short CLI command to its end and returns its stdout (throws on a non-zero exit). */
function runCli(args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-8_000);
  });
  return new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), CLI_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(stdout);
      else
        reject(
          new Error(
            `regent ${args.join(" ")} exited with ${signal ?? `code ${code}`}\n  stdout: ${stdout.trim()}\n  stderr: ${stderr.trim()}`,
          ),
        );
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// The benchmark

const CREATE_FLOW_RUN = `mutation($g: uuid!) { create_flow_run(input: { version_group_id: $g }) { id } }`;

async function createFlowRun(api: string, versionGroupId: string): Promise<string> {
  const res = await fetch(api, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: CREATE_FLOW_RUN, variables: { g: versionGroupId } }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  const body = JSON.parse(text) as {
    data?: { create_flow_run: { id: string } };
    errors?: Array<{ message: string }>;
  };
  if (body.errors?.length || !body.data)
    throw new Error(`create_flow_run failed: HTTP ${res.status} ${text}`);
  return body.data.create_flow_run.id;
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
  while (!aborting) {
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
  const watchdog = setTimeout(() => abort(`still running after ${WATCHDOG_MS / 1000} s`, 1), WATCHDOG_MS);
  watchdog.unref();
  const progress = (line: string) => process.stderr.write(`${line}\n`);

  const scratch = mkdtempSync(join(tmpdir(), "regent-bench-dispatch-"));
  tempPaths.add(scratch);
  // The flow folder sits inside bench/ so that `@regent/sdk` and `zod` resolve from the repository.
  const flowDir = mkdtempSync(join(BENCH_DIR, ".dispatch-flow-"));
  tempPaths.add(flowDir);
  const stampFile = join(scratch, "stamps.txt");
  const flowFile = join(flowDir, "dispatch-flow.ts");
  writeFileSync(flowFile, flowSource(stampFile));
  const noConfig = ["--config", join(scratch, "no-config.toml")];

  let server: LongChild | undefined;
  let agent: LongChild | undefined;
  const latencies: number[] = [];
  let created = 0;
  let timedOut = 0;
  let dispatchSeconds = 0;
  try {
    progress("starting the server (SQLite, temporary directory)…");
    server = await startChild(
      "the server child",
      [
        ...noConfig,
        "server",
        "start",
        "--db",
        join(scratch, "regent.db"),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ],
      /API\s+(http:\/\/127\.0\.0\.1:\d+\/graphql)/,
    );
    const api = server.match[1]!;
    const cli = [...noConfig, "--api", api];
    progress(`server on ${api}; creating project "bench" and registering the flow…`);
    await runCli([...cli, "project", "create", "bench"]);
    const registered = JSON.parse(
      await runCli([...cli, "register", flowFile, "--project", "bench", "--json"]),
    ) as Array<{ id: string; version_group_id: string }>;
    const flow = registered[0];
    if (!flow) throw new Error("regent register registered no flow");

    progress("starting the local agent (--max-concurrent 4)…");
    agent = await startChild(
      "the agent child",
      [...cli, "agent", "local", "start", "--accept-unlabeled", "--max-concurrent", "4"],
      /waiting for flow runs/,
    );

    progress(`creating up to ${RUNS} flow runs one at a time (budget ${DISPATCH_BUDGET_MS / 1000} s)…`);
    const seen = new Map<string, number>();
    const phaseStart = performance.now();
    while (created < RUNS) {
      const elapsed = performance.now() - phaseStart;
      const perRun = created > 0 ? elapsed / created : 0;
      if (elapsed + perRun > DISPATCH_BUDGET_MS) break;
      const runId = await createFlowRun(api, flow.version_group_id);
      const t0 = now();
      created++;
      const t1 = await waitForStamp(stampFile, runId, seen);
      if (aborting) return;
      if (t1 === undefined) {
        timedOut++;
        progress(`  run ${runId}: no line after ${RUN_TIMEOUT_MS / 1000} s (agent ${agent.status()})`);
        if (timedOut >= 3) throw new Error(`3 runs timed out; agent output:\n${agent.output()}`);
        continue;
      }
      latencies.push(t1 - t0);
      if (created % 25 === 0) progress(`  ${created} runs, last ${round(t1 - t0, 1)} ms`);
    }
    dispatchSeconds = (performance.now() - phaseStart) / 1000;
    // Let the last runs finish before the agent is stopped (it waits for runs under way anyway).
    await sleep(1_000);
  } finally {
    progress("stopping the agent and the server…");
    await agent?.stop();
    await server?.stop();
    removeTemps();
    clearTimeout(watchdog);
  }

  const f = (x: number, digits = 1) =>
    Number.isFinite(x)
      ? x.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits })
      : "n/a";
  const p50 = percentile(latencies, 50);
  const p95 = percentile(latencies, 95);
  const p99 = percentile(latencies, 99);
  const max = latencies.length ? Math.max(...latencies) : Number.NaN;
  const min = latencies.length ? Math.min(...latencies) : Number.NaN;
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const out = [
    "",
    `Regent dispatch latency — node ${process.version}, ${process.platform}-${process.arch}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "unknown"})`,
    "",
    `  create_flow_run returned → the flow function's first line ran (local agent, SQLite, 127.0.0.1)`,
    `  runs measured: ${latencies.length} of ${created} created (N = ${created}${created < RUNS ? `, reduced from ${RUNS} to fit ${DISPATCH_BUDGET_MS / 1000} s` : ""}; ${timedOut} timed out), one at a time, in ${f(dispatchSeconds)} s`,
    "",
    `  p50  ${f(p50).padStart(9)} ms   target ≤ ${TARGETS.p50Ms} ms   ${verdict(p50 <= TARGETS.p50Ms)}`,
    `  p95  ${f(p95).padStart(9)} ms   target ≤ ${TARGETS.p95Ms} ms  ${verdict(p95 <= TARGETS.p95Ms)}`,
    `  p99  ${f(p99).padStart(9)} ms`,
    `  max  ${f(max).padStart(9)} ms`,
    `  min  ${f(min).padStart(9)} ms`,
    "",
    `  The targets (p50 ≤ ${TARGETS.p50Ms} ms, p95 ≤ ${TARGETS.p95Ms} ms) assume a pre-started executor pool. Regent has`,
    "  no pre-started pool yet: the agent launches a new Node process (`regent execute flow-run`) for every run,",
    "  which loads the CLI, fetches the run and its bundle, then starts the flow — so these are cold starts.",
    "",
    `  total benchmark time: ${f((performance.now() - started) / 1000)} s`,
    "",
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  abort("failed", 1);
}
