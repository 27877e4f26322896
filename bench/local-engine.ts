// Benchmark of the local flow engine (@regent/sdk): prints figures, asserts nothing.
//
//   npm run build && npm run bench          # table
//   node bench/dist/local-engine.js --json  # machine-readable figures
//
// Each figure is timed end to end around `flow.run()`: the flow run's own setup and teardown are
// included, spread over its task runs. The peak RSS is measured in a fresh child process (`--rss-child`)
// so that nothing the other measurements allocated counts towards it.
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { flow, task } from "@regent/sdk";
import { machine, median, round } from "./figures.js";

const CHAIN_TASKS = 1_000;
const MAP_ITEMS = 10_000;
const SEQUENTIAL_TASKS = 40;
const RSS_ITEMS = 100_000;

const WARMUPS = 2;
const REPS = 7;
/** At least this many measured repetitions, whatever the time budget. */
const MIN_REPS = 3;
/** Stop adding repetitions to a figure once its measured runs took this long (keeps slow machines bounded). */
const BUDGET_MS = 5_000;
/** The RSS child is killed after this long. */
const CHILD_TIMEOUT_MS = 25_000;

/** The issue's targets, printed next to the figures. */
const TARGETS = { chainUsPerTask: 20, mapUsPerTask: 10, rss100kMB: 500 } as const;
/** Measured elsewhere (Prefect 1.4.1, local engine, similar 2-core machine); printed for reference only. */
const PREFECT_REFERENCE = { version: "1.4.1", chainUsPerTask: 5_600, mapUsPerTask: 2_600 } as const;

// ---------------------------------------------------------------------------------------------------
// Tasks and flows

const noop = task({ name: "noop" }, (v: number) => v);

/** A light but real task: builds a small record and round-trips it through JSON. */
const light = task({ name: "light" }, (acc: number) => {
  const record = { id: acc, name: `item-${acc}`, tags: ["a", "b", "c"], values: [acc, acc + 1, acc + 2] };
  const copy = JSON.parse(JSON.stringify(record)) as typeof record;
  return copy.values.reduce((a, b) => a + b, 0) % 1_000_003;
});

const chainFlow = flow({ name: "bench-chain" }, async () => {
  let v = 0;
  for (let i = 0; i < CHAIN_TASKS; i++) v = await noop(v);
  return v;
});

const mapFlow = flow({ name: "bench-map" }, async () => {
  const items = Array.from({ length: MAP_ITEMS }, (_, i) => i);
  const out = await noop.map(items);
  return out.length;
});

const sequentialFlow = flow({ name: "bench-sequential" }, async () => {
  let acc = 1;
  for (let i = 0; i < SEQUENTIAL_TASKS; i++) acc = await light(acc);
  return acc;
});

const rssFlow = flow({ name: "bench-rss-map" }, async () => {
  const items = Array.from({ length: RSS_ITEMS }, (_, i) => i);
  const out = await noop.map(items);
  return out.length;
});

// ---------------------------------------------------------------------------------------------------
// Helpers

const gc = (globalThis as { gc?: () => void }).gc;
const collect = () => gc?.();

const MB = (kib: number) => kib / 1024;

interface RunnableFlow {
  readonly name: string;
  run(): Promise<{ state: { type: string; message?: string }; taskRuns: readonly unknown[] }>;
}

/** Runs the flow once and returns its wall time in ms; a run that does not succeed stops the benchmark. */
async function timeRun(f: RunnableFlow, expectedTaskRuns: number): Promise<number> {
  const t0 = performance.now();
  const result = await f.run();
  const ms = performance.now() - t0;
  if (result.state.type !== "Success" || result.taskRuns.length !== expectedTaskRuns) {
    throw new Error(
      `benchmark flow ${f.name} ended ${result.state.type} with ${result.taskRuns.length} task runs ` +
        `(expected Success with ${expectedTaskRuns}): ${result.state.message ?? ""}`,
    );
  }
  return ms;
}

interface Sample {
  readonly warmups: number;
  readonly reps: number;
  readonly samplesMs: number[];
  readonly medianMs: number;
  readonly minMs: number;
}

const rounded = (s: Sample): Sample => ({
  ...s,
  samplesMs: s.samplesMs.map((x) => round(x, 3)),
  medianMs: round(s.medianMs, 3),
  minMs: round(s.minMs, 3),
});

async function measure(f: RunnableFlow, expectedTaskRuns: number): Promise<Sample> {
  for (let i = 0; i < WARMUPS; i++) await timeRun(f, expectedTaskRuns);
  const samplesMs: number[] = [];
  let spent = 0;
  while (samplesMs.length < REPS && (samplesMs.length < MIN_REPS || spent < BUDGET_MS)) {
    collect();
    const ms = await timeRun(f, expectedTaskRuns);
    samplesMs.push(ms);
    spent += ms;
  }
  return {
    warmups: WARMUPS,
    reps: samplesMs.length,
    samplesMs,
    medianMs: median(samplesMs),
    minMs: Math.min(...samplesMs),
  };
}

// ---------------------------------------------------------------------------------------------------
// The RSS child: a fresh process that runs one map of RSS_ITEMS and reports its memory as JSON.

interface RssReport {
  readonly items: number;
  readonly taskRuns: number;
  readonly baselineRssMB: number;
  readonly baselineMaxRssMB: number;
  readonly peakRssMB: number;
  readonly heapUsedAfterMB: number;
  readonly mapMs: number;
}

async function rssChild(): Promise<void> {
  const baselineRss = process.memoryUsage().rss;
  const baselineMaxRss = process.resourceUsage().maxRSS; // KiB
  const t0 = performance.now();
  const result = await rssFlow.run();
  const mapMs = performance.now() - t0;
  const peakMaxRss = process.resourceUsage().maxRSS; // KiB, the process's peak so far
  if (result.state.type !== "Success") throw new Error(`the RSS flow ended ${result.state.type}`);
  const report: RssReport = {
    items: RSS_ITEMS,
    taskRuns: result.taskRuns.length,
    baselineRssMB: baselineRss / 1024 / 1024,
    baselineMaxRssMB: MB(baselineMaxRss),
    peakRssMB: MB(peakMaxRss),
    heapUsedAfterMB: process.memoryUsage().heapUsed / 1024 / 1024,
    mapMs,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function runRssChild(): Promise<RssReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--rss-child"], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: CHILD_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        reject(new Error(`the RSS child exited with ${signal ?? `code ${code}`}: ${stderr.trim()}`));
        return;
      }
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as RssReport);
      } catch {
        reject(new Error(`the RSS child printed no report: ${stdout.trim()} ${stderr.trim()}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const started = performance.now();
  const progress = (what: string) => {
    if (!json) process.stderr.write(`… ${what}\n`);
  };

  progress(`chain of ${CHAIN_TASKS.toLocaleString("en")} no-op tasks`);
  const chain = await measure(chainFlow, CHAIN_TASKS);
  progress(`map over ${MAP_ITEMS.toLocaleString("en")} items`);
  const map = await measure(mapFlow, MAP_ITEMS + 1); // the mapped parent and its children
  progress(`${SEQUENTIAL_TASKS} light sequential tasks`);
  const sequential = await measure(sequentialFlow, SEQUENTIAL_TASKS);
  progress(`peak RSS of a map over ${RSS_ITEMS.toLocaleString("en")} items (child process)`);
  const rss = await runRssChild();
  const totalSeconds = (performance.now() - started) / 1000;

  const chainUs = (chain.medianMs * 1000) / CHAIN_TASKS;
  const mapUs = (map.medianMs * 1000) / MAP_ITEMS;

  const figures = {
    environment: { ...machine(), gcExposed: gc !== undefined },
    chain: {
      tasks: CHAIN_TASKS,
      usPerTaskMedian: round(chainUs),
      usPerTaskMin: round((chain.minMs * 1000) / CHAIN_TASKS),
      ...rounded(chain),
    },
    map: {
      items: MAP_ITEMS,
      usPerTaskMedian: round(mapUs),
      usPerTaskMin: round((map.minMs * 1000) / MAP_ITEMS),
      ...rounded(map),
    },
    sequential: {
      tasks: SEQUENTIAL_TASKS,
      totalMsMedian: round(sequential.medianMs, 3),
      ...rounded(sequential),
    },
    rss: {
      items: rss.items,
      taskRuns: rss.taskRuns,
      baselineRssMB: round(rss.baselineRssMB, 1),
      peakRssMB: round(rss.peakRssMB, 1),
      heapUsedAfterMB: round(rss.heapUsedAfterMB, 1),
      mapMs: round(rss.mapMs, 1),
      usPerTask: round((rss.mapMs * 1000) / rss.items),
    },
    targets: TARGETS,
    reference: {
      ...PREFECT_REFERENCE,
      note: "Prefect's figures were measured elsewhere, not by this benchmark",
    },
    totalSeconds: round(totalSeconds, 1),
  };

  if (json) {
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    return;
  }

  const f = (x: number, digits = 1) =>
    x.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const rows: Array<[string, string, string, string]> = [
    ["figure", "median", "min", "target"],
    [
      `chain of ${f(CHAIN_TASKS, 0)} no-op tasks, per task`,
      `${f(chainUs, 2)} µs`,
      `${f((chain.minMs * 1000) / CHAIN_TASKS, 2)} µs`,
      `≤ ${TARGETS.chainUsPerTask} µs`,
    ],
    [
      `map over ${f(MAP_ITEMS, 0)} items, per task`,
      `${f(mapUs, 2)} µs`,
      `${f((map.minMs * 1000) / MAP_ITEMS, 2)} µs`,
      `≤ ${TARGETS.mapUsPerTask} µs`,
    ],
    [
      `${SEQUENTIAL_TASKS} light sequential tasks, total`,
      `${f(sequential.medianMs, 2)} ms`,
      `${f(sequential.minMs, 2)} ms`,
      "—",
    ],
    [
      `map over ${f(RSS_ITEMS, 0)} items: peak RSS (child)`,
      `${f(rss.peakRssMB)} MB`,
      "",
      `< ${TARGETS.rss100kMB} MB`,
    ],
    ["  child baseline RSS before the map", `${f(rss.baselineRssMB)} MB`, "", "—"],
    [`  time of that map (${f(rss.taskRuns, 0)} task runs)`, `${f(rss.mapMs)} ms`, "", "—"],
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: readonly string[]) =>
    `  ${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padStart(widths[1]!)}  ${r[2]!.padStart(widths[2]!)}  ${r[3]!}`.trimEnd();
  const out = [
    "",
    `Regent local engine benchmark — node ${process.version}, ${figures.environment.platform}, ${figures.environment.cpus} CPUs (${figures.environment.cpuModel})`,
    "",
    line(rows[0]!),
    `  ${widths.map((w) => "-".repeat(w)).join("  ")}`,
    ...rows.slice(1).map(line),
    "",
    `  repetitions: chain ${chain.reps}, map ${map.reps}, sequential ${sequential.reps} (after ${WARMUPS} warm-ups each); ` +
      `global.gc ${gc ? "called between repetitions" : "not exposed"}`,
    "  MB = 1024 × 1024 bytes; peak RSS is process.resourceUsage().maxRSS of a fresh child process.",
    "",
    `  Reference (not measured here): Prefect ${PREFECT_REFERENCE.version}'s local engine was measured at about ` +
      `${f(PREFECT_REFERENCE.chainUsPerTask, 0)} µs per chained task`,
    `  and ${f(PREFECT_REFERENCE.mapUsPerTask, 0)} µs per mapped task on a similar 2-core machine.`,
    "",
    `  total benchmark time: ${f(totalSeconds)} s`,
    "",
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}

if (process.argv.includes("--rss-child")) await rssChild();
else await main();
