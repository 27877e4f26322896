// Benchmark of Lazarus: how long from the death of a run's infrastructure to the run starting again, and
// what heartbeats cost a run. Prints figures, asserts nothing.
//
//   npm run build && npm run bench:lazarus
//
// The built CLI serves the API on a SQLite file with `heartbeat_timeout = "3s"`, a flow is registered
// whose task waits while a file exists, and `regent agent local start --prestarted 0` runs it. Two kinds
// of death, REPS times each:
// - killed: the flow-run process gets SIGKILL; its agent sees it end and reports it.
// - silent: the flow-run process gets SIGSTOP (a machine gone, a network cut); only the missing
//   heartbeats tell, so the figure holds the heartbeat timeout.
// Each figure is from the signal to the Running state of the next execution as the server stored it
// (the executor writes it once it has loaded the flow), and to the Scheduled state Lazarus wrote.
// Heartbeat overhead: a chain of 1,000 no-op tasks, run with the default heartbeat (a beat every 10 s)
// and with one every 200 ms (heartbeat_timeout 1.2 s), µs per task from its Running state to its final state.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Api } from "./api.js";
import { runCliCommand, startAgentChild, startServerChild } from "./children.js";
import { checkNotAborting, children, guardProcess, onCleanup } from "./cleanup.js";
import { machine, median, round } from "./figures.js";

const REPS = 3;
const CHAIN_RUNS = 5;
const CHAIN_TASKS = 1_000;
const HEARTBEAT_TIMEOUT_S = 3;
const TARGETS = { restartMs: HEARTBEAT_TIMEOUT_S * 1000 + 2000, heartbeatOverhead: 0.01 } as const;
const WATCHDOG_MS = 300_000;
const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const HANG_FLOW = (hangFile: string, pidFile: string) => `import { existsSync, writeFileSync } from "node:fs";
import { flow, task } from "@regent/sdk";

const hang = task({ name: "hang" }, async () => {
  writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
  while (existsSync(${JSON.stringify(hangFile)})) await new Promise((r) => setTimeout(r, 20));
  return 1;
});

export default flow({ name: "lazarus-hang", maxRestarts: 100 }, async () => hang());
`;

const CHAIN_FLOW = `import { flow, task } from "@regent/sdk";

const noop = task({ name: "noop" }, (v: number) => v);

export default flow({ name: "lazarus-chain" }, async () => {
  let v = 0;
  for (let i = 0; i < 1000; i++) v = await noop(v);
  return v;
});
`;

const Q = {
  create: `mutation($g: uuid!) { create_flow_run(input: { version_group_id: $g }) { id } }`,
  run: `query($id: uuid!) { flow_run_by_pk(id: $id) { state restart_count start_time updated
          states(order_by: [{ version: asc }]) { state timestamp version } } }`,
};

interface RunView {
  state: string;
  restart_count: number;
  start_time: string | null;
  updated: string;
  states: Array<{ state: string; timestamp: string; version: number }>;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    checkNotAborting();
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A server on a fresh SQLite file with the given `[server]` settings, the flows registered, an agent. */
async function setUp(scratch: string, flowDir: string, serverToml: string) {
  const configFile = join(scratch, `config-${Date.now()}.toml`);
  writeFileSync(configFile, `[server]\n${serverToml}\n`);
  const server = await startServerChild({
    db: join(scratch, `regent-${Date.now()}.db`),
    configFile,
    children,
  });
  const stopServer = onCleanup(() => server.stop());
  const cli = ["--config", configFile, "--api", server.graphqlUrl];
  const run = (args: readonly string[]) => runCliCommand({ args: [...cli, ...args], children });
  await run(["project", "create", "bench"]);
  const registered = JSON.parse(await run(["register", flowDir, "--project", "bench", "--json"])) as Array<{
    name: string;
    version_group_id: string;
  }>;
  const agent = await startAgentChild({ cli, maxConcurrent: 4, prestarted: 0, children });
  const stopAgent = onCleanup(() => agent.stop());
  const group = (name: string) => registered.find((r) => r.name === name)!.version_group_id;
  return {
    api: new Api(server.graphqlUrl, server),
    group,
    async stop() {
      await stopAgent();
      await stopServer();
    },
  };
}

interface DeathFigure {
  readonly scheduledMs: number;
  readonly runningMs: number;
}

/** One death of the given kind: ms from the signal to Lazarus's Scheduled and to the next Running. */
async function measureDeath(
  api: Api,
  group: string,
  files: { hang: string; pid: string },
  signal: "SIGKILL" | "SIGSTOP",
): Promise<DeathFigure> {
  writeFileSync(files.hang, "");
  rmSync(files.pid, { force: true });
  const { create_flow_run } = await api.request<{ create_flow_run: { id: string } }>(Q.create, { g: group });
  const id = create_flow_run.id;
  const view = async () => (await api.request<{ flow_run_by_pk: RunView }>(Q.run, { id })).flow_run_by_pk;
  const pid = await waitFor("the task to start", async () => {
    try {
      const { readFileSync } = await import("node:fs");
      return Number(readFileSync(files.pid, "utf8")) || undefined;
    } catch {
      return undefined;
    }
  });
  const at = Date.now();
  process.kill(pid, signal);
  try {
    const again = await waitFor("the next execution's Running state", async () => {
      const v = await view();
      return v.restart_count >= 1 && v.states.at(-1)?.state === "Running" ? v : undefined;
    });
    const after = (state: string) =>
      Date.parse(again.states.filter((s) => s.state === state).at(-1)!.timestamp) - at;
    return { scheduledMs: after("Scheduled"), runningMs: after("Running") };
  } finally {
    rmSync(files.hang, { force: true });
    if (signal === "SIGSTOP") process.kill(pid, "SIGCONT");
    await waitFor("the run to end", async () => ((await view()).state === "Success" ? true : undefined));
  }
}

async function chainUsPerTask(api: Api, group: string): Promise<number[]> {
  const figures: number[] = [];
  for (let i = 0; i < 1 + CHAIN_RUNS; i++) {
    const { create_flow_run } = await api.request<{ create_flow_run: { id: string } }>(Q.create, {
      g: group,
    });
    const run = await waitFor(
      "the chain to end",
      async () => {
        const v = (await api.request<{ flow_run_by_pk: RunView }>(Q.run, { id: create_flow_run.id }))
          .flow_run_by_pk;
        return v.state === "Success" ? v : undefined;
      },
      120_000,
    );
    // ms for the chain's CHAIN_TASKS tasks → µs per task.
    if (i > 0) figures.push(((Date.parse(run.updated) - Date.parse(run.start_time!)) * 1000) / CHAIN_TASKS);
  }
  return figures;
}

async function main(): Promise<void> {
  const started = performance.now();
  guardProcess("bench/lazarus", WATCHDOG_MS);
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const scratch = mkdtempSync(join(tmpdir(), "regent-bench-lazarus-"));
  const flowDir = mkdtempSync(join(BENCH_DIR, ".lazarus-flows-"));
  const removeTemps = onCleanup(async () => {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(flowDir, { recursive: true, force: true });
  });
  const files = { hang: join(scratch, "hang"), pid: join(scratch, "pid") };
  writeFileSync(join(flowDir, "hang.ts"), HANG_FLOW(files.hang, files.pid));
  writeFileSync(join(flowDir, "chain.ts"), CHAIN_FLOW);
  const deaths: Record<"killed" | "silent", DeathFigure[]> = { killed: [], silent: [] };
  const chain: Record<"default" | "frequent", number[]> = { default: [], frequent: [] };
  try {
    progress(`server with heartbeat_timeout ${HEARTBEAT_TIMEOUT_S}s…`);
    const a = await setUp(scratch, flowDir, `heartbeat_timeout = "${HEARTBEAT_TIMEOUT_S}s"`);
    try {
      for (const [kind, signal] of [
        ["killed", "SIGKILL"],
        ["silent", "SIGSTOP"],
      ] as const) {
        for (let i = 0; i < REPS; i++) {
          const figure = await measureDeath(a.api, a.group("lazarus-hang"), files, signal);
          progress(
            `  ${kind} ${i + 1}: Scheduled after ${figure.scheduledMs} ms, Running after ${figure.runningMs} ms`,
          );
          deaths[kind].push(figure);
        }
      }
      progress("chain with a heartbeat every 200 ms (heartbeat_timeout 1.2 s)…");
    } finally {
      await a.stop();
    }
    const frequent = await setUp(scratch, flowDir, `heartbeat_timeout = "1200ms"`);
    try {
      chain.frequent = await chainUsPerTask(frequent.api, frequent.group("lazarus-chain"));
    } finally {
      await frequent.stop();
    }
    progress("chain with the default heartbeat (every 10 s)…");
    const plain = await setUp(scratch, flowDir, "");
    try {
      chain.default = await chainUsPerTask(plain.api, plain.group("lazarus-chain"));
    } finally {
      await plain.stop();
    }
  } finally {
    await removeTemps();
  }
  const totalSeconds = round((performance.now() - started) / 1000, 1);
  const summary = (xs: number[]) =>
    `${round(median(xs), 0)} (${round(Math.min(...xs), 0)}–${round(Math.max(...xs), 0)})`;
  const overhead = median(chain.frequent) / median(chain.default) - 1;
  if (process.argv.includes("--json")) {
    process.stdout.write(
      `${JSON.stringify({ deaths, chain, overhead, targets: TARGETS, environment: machine(), totalSeconds }, null, 2)}\n`,
    );
    return;
  }
  const m = machine();
  const met = (ok: boolean) => (ok ? "met" : "MISSED");
  process.stdout.write(
    `${[
      `Lazarus — node ${m.node}, ${m.platform}, ${m.cpus} CPUs (${m.cpuModel}); SQLite; heartbeat_timeout ${HEARTBEAT_TIMEOUT_S} s`,
      "",
      "  ms from the signal to (median of 3, min–max):          Lazarus's Scheduled     the next Running",
      `  killed (SIGKILL; its agent reports the exit)          ${summary(deaths.killed.map((d) => d.scheduledMs)).padEnd(22)}  ${summary(deaths.killed.map((d) => d.runningMs))} ${met(median(deaths.killed.map((d) => d.runningMs)) <= TARGETS.restartMs)}`,
      `  silent (SIGSTOP; only the heartbeats tell)            ${summary(deaths.silent.map((d) => d.scheduledMs)).padEnd(22)}  ${summary(deaths.silent.map((d) => d.runningMs))} ${met(median(deaths.silent.map((d) => d.runningMs)) <= TARGETS.restartMs)}`,
      `  target: the next Running within heartbeat_timeout + 2 s = ${TARGETS.restartMs} ms`,
      "",
      `  1,000-task chain, µs per task (median of ${CHAIN_RUNS}, min–max): a beat every 10 s ${summary(chain.default)}; every 200 ms ${summary(chain.frequent)}`,
      `  a beat every 200 ms (50× the default rate) costs ${round(overhead * 100, 1)} % (the runs' own spread is larger); at the default rate that is ${round((overhead * 100) / 50, 2)} % — target < 1 %: ${met(overhead / 50 < TARGETS.heartbeatOverhead)}`,
      "",
      `  total benchmark time: ${totalSeconds} s`,
    ].join("\n")}\n`,
  );
}

await main();
