// Benchmark of the web UI with 100,000 flow runs and a 100,000-line log in the database: for each main
// page, the time from navigation to its content on screen in Chromium (first meaningful paint) and the
// server time of the GraphQL queries it sent, on SQLite and PostgreSQL; and the size of the code the
// first page loads. Prints figures, asserts nothing.
//
//   npm run build && npm run bench:ui
//   eval "$(bash scripts/testbed/postgres.sh start)" && npm run bench:ui; bash scripts/testbed/postgres.sh stop
//
// The server runs in this process (startServer, serving packages/ui/dist); the database is seeded with
// testkit's seedFlowRuns; Debian's Chromium (scripts/testbed/chromium.sh) loads each page 1 + 5 times. A
// query's server time is Chromium's own timing of its request, from sending it to the answer's last
// byte, on loopback. Targets (issue #6): ≤ 300 ms a page query; ≤ 400 KB gzipped for the first page.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { migrateToLatest, openDatabase, startServer } from "@regent/server";
// The seeding alone: the rest of testkit is vitest fixtures, which load only under vitest.
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "@regent/testkit/chromium";
import { seedFlowRuns } from "@regent/testkit/seed";
import { chromium, type Page } from "playwright-core";
import { checkNotAborting, guardProcess, onCleanup } from "./cleanup.js";
import { argValue, machine, median, round } from "./figures.js";
import { onPostgres } from "./postgres.js";

const RUNS = 100_000;
const LOG_LINES = 100_000;
const LOADS = 5;
const WATCHDOG_MS = 20 * 60_000;
// bench/dist/ui.js → the repository's packages/ui/dist
const UI_DIR = new URL("../../packages/ui/dist", import.meta.url).pathname;
const progress = (line: string) => process.stderr.write(`bench/ui: ${line}\n`);

interface PageFigures {
  page: string;
  paintMs: number[];
  /** The slowest query of each load. */
  slowestQueryMs: number[];
  queries: string[];
}

/** Loads `path` and waits for `ready`; resolves with the time to it and each GraphQL request's time. */
async function load(
  page: Page,
  url: string,
  ready: string,
): Promise<{ paintMs: number; queries: Map<string, number> }> {
  const queries = new Map<string, number>();
  const pending: Promise<void>[] = [];
  const onRequest = (request: import("playwright-core").Request) => {
    if (!request.url().endsWith("/graphql") || request.method() !== "POST") return;
    const operation = /(query|mutation|subscription) (\w+)/.exec(request.postData() ?? "");
    // A subscription's answer is a stream that stays open while the page lives: not a query to time.
    if (operation?.[1] === "subscription") return;
    const name = operation?.[2] ?? "?";
    pending.push(
      request
        .response()
        .then(async (response) => {
          await response?.finished();
          const t = request.timing();
          if (t.responseEnd > 0)
            queries.set(name, Math.max(queries.get(name) ?? 0, t.responseEnd - t.requestStart));
        })
        .catch(() => {}),
    );
  };
  page.on("request", onRequest);
  const started = performance.now();
  await page.goto(url);
  await page.locator(ready).first().waitFor({ timeout: 30_000 });
  const paintMs = performance.now() - started;
  // Bounded: an answer that never ends must not stall the benchmark.
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 10_000))]);
  page.off("request", onRequest);
  return { paintMs, queries };
}

async function benchDatabase(url: string, progressOf: (line: string) => void): Promise<PageFigures[]> {
  const database = await openDatabase(url);
  await migrateToLatest(database);
  const seedStarted = performance.now();
  const { flowId, loggedRunId } = await seedFlowRuns(database, {
    project: "bench",
    name: "wide",
    runs: RUNS,
    logLines: LOG_LINES,
  });
  progressOf(
    `seeded ${RUNS.toLocaleString("en")} runs and ${LOG_LINES.toLocaleString("en")} log lines in ${round((performance.now() - seedStarted) / 1000, 1)} s`,
  );
  const server = await startServer({ database, port: 0, uiDir: UI_DIR, services: false });
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
  try {
    const pages: [string, string, string][] = [
      ["dashboard", "/", "[data-testid='run-chart'] .chart-seg"],
      ["flow runs", "/runs", "table.runs tbody tr"],
      ["flow runs, Failed", "/runs?state=Failed", "table.runs tbody tr"],
      ["flow run with 100,000-line log", `/runs/${loggedRunId}`, ".log-line"],
      ["flow", `/flows/${flowId}`, "table.runs tbody tr"],
    ];
    const figures: PageFigures[] = [];
    for (const [name, path, ready] of pages) {
      checkNotAborting();
      const f: PageFigures = { page: name, paintMs: [], slowestQueryMs: [], queries: [] };
      for (let i = 0; i <= LOADS; i++) {
        // A fresh page each load: nothing cached in the browser between them.
        const context = await browser.newContext();
        const page = await context.newPage();
        const { paintMs, queries } = await load(page, `${server.url}${path}`, ready);
        await context.close();
        if (i === 0) continue; // warm-up
        f.paintMs.push(paintMs);
        f.slowestQueryMs.push(Math.max(0, ...queries.values()));
        f.queries = [...queries.keys()];
      }
      progressOf(
        `${name}: paint median ${round(median(f.paintMs), 0)} ms, slowest query median ${round(median(f.slowestQueryMs), 0)} ms`,
      );
      figures.push(f);
    }
    return figures;
  } finally {
    await browser.close();
    await server.close();
    await database.close();
  }
}

/** Gzipped bytes of the code and styles the first page loads, and of what loads later. */
function bundleSizes(): { initialGzipKb: number; lazyGzipKb: number } {
  const assets = join(UI_DIR, "assets");
  const index = readFileSync(join(UI_DIR, "index.html"), "utf8");
  let initial = 0;
  let lazy = 0;
  for (const file of readdirSync(assets)) {
    if (!/\.(js|css)$/.test(file)) continue;
    const size = gzipSync(readFileSync(join(assets, file))).length;
    if (index.includes(file)) initial += size;
    else lazy += size;
  }
  return { initialGzipKb: round(initial / 1024, 1), lazyGzipKb: round(lazy / 1024, 1) };
}

async function main(): Promise<void> {
  guardProcess("bench/ui", WATCHDOG_MS);
  const only = argValue("--only");
  const scratch = mkdtempSync(join(tmpdir(), "regent-bench-ui-"));
  const removeScratch = onCleanup(async () => rmSync(scratch, { recursive: true, force: true }));
  const results: Record<string, PageFigures[] | { skipped: string }> = {};
  try {
    if (!only || only === "sqlite") {
      progress("sqlite");
      results.sqlite = await benchDatabase(join(scratch, "regent.db"), progress);
    }
    if (!only || only === "postgres") {
      results.postgres = await onPostgres((url) => benchDatabase(url, progress), progress);
    }
  } finally {
    await removeScratch();
  }
  const bundle = bundleSizes();
  const env = machine();
  const out: string[] = [
    "",
    `Regent web UI with ${RUNS.toLocaleString("en")} flow runs and a ${LOG_LINES.toLocaleString("en")}-line log — node ${env.node}, ${env.platform}, ${env.cpus} CPUs (${env.cpuModel})`,
    "",
    "  median (max) of 5 loads after a warm-up, each in a fresh browser context: navigation → the page's",
    "  content on screen, and the slowest GraphQL query it sent (server time over loopback).",
    "",
  ];
  for (const [db, r] of Object.entries(results)) {
    if ("skipped" in r) {
      out.push(`  ${db}: skipped — ${r.skipped}`);
      continue;
    }
    out.push(`  ${db}`);
    for (const f of r) {
      const q = median(f.slowestQueryMs);
      out.push(
        `    ${f.page.padEnd(34)} paint ${String(round(median(f.paintMs), 0)).padStart(5)} ms (${round(Math.max(...f.paintMs), 0)})   slowest query ${String(round(q, 0)).padStart(4)} ms (${round(Math.max(...f.slowestQueryMs), 0)}) ${q <= 300 ? "met" : "MISSED"}   [${f.queries.join(", ")}]`,
      );
    }
  }
  out.push(
    "",
    `  code and styles the first page loads: ${bundle.initialGzipKb} KB gzipped (target ≤ 400 KB: ${bundle.initialGzipKb <= 400 ? "met" : "MISSED"}); loaded later (the schematic): ${bundle.lazyGzipKb} KB`,
    "",
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

await main();
