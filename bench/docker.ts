// Benchmark of Docker storage and the Docker agent. Prints figures, asserts nothing.
//
//   npm run build && npm run bench:docker
//
// Everything runs on 127.0.0.1: a Docker engine and a registry with password auth (the ones named by
// REGENT_TEST_REGISTRY & co., else started here with scripts/testbed/docker.sh and stopped at the end),
// the runtime image built with deploy/docker/build-runtime.mjs FROM the testbed's base image, the built
// CLI's server on SQLite in a temporary directory, and a flow with Docker storage registered into it.
//
// 1. `regent register` of the unchanged flow (a cache hit: the registry has its image; nothing is built
//    or pushed), timed as a whole command, REGISTERS times. Target ≤ 2 s.
// 2. With the flow's image on the machine (warm), a Docker agent takes RUNS runs, one at a time. For each,
//    the container's start (the engine's State.StartedAt) to the flow function's first line (it logs
//    `performance.timeOrigin + performance.now()`; the same machine's clock), and create_flow_run's
//    answer to that line. Target p50 ≤ 500 ms for the first.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Api } from "./api.js";
import { runCliCommand, startCliChild, startServerChild } from "./children.js";
import { abort, children, guardProcess, onCleanup } from "./cleanup.js";
import { machine, median, percentile, round } from "./figures.js";

const REGISTERS = 5;
const RUNS = 20;
const RUN_TIMEOUT_MS = 60_000;
const WATCHDOG_MS = 600_000;
const TARGETS = { registerCacheHitMs: 2_000, containerToFirstLineP50Ms: 500 } as const;
const RUNTIME = "regent/runtime:bench";
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const progress = (line: string) => process.stderr.write(`bench/docker: ${line}\n`);

/** The testbed's Docker engine and registry: those named in the environment, else started here. */
function testbed(): void {
  if (process.env.REGENT_TEST_REGISTRY) return;
  progress("starting a Docker engine and a registry (scripts/testbed/docker.sh)…");
  const exports = execFileSync("bash", [join(REPO, "scripts/testbed/docker.sh"), "start"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  for (const [, name, value] of exports.matchAll(/^export (\w+)=(.*)$/gm)) process.env[name!] = value!;
  const dir = process.env.REGENT_TEST_DOCKER_DIR!;
  cleanUp.push(
    onCleanup(async () => {
      execFileSync("bash", [join(REPO, "scripts/testbed/docker.sh"), "stop", dir], { stdio: "ignore" });
    }),
  );
}

/** Epoch ms of an RFC 3339 time with up to nanoseconds, as the engine writes State.StartedAt. */
function epochMs(iso: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(iso);
  if (!m) throw new Error(`not an RFC 3339 UTC time: ${iso}`);
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? "0"}`) * 1000;
}

const flowSource = (registry: string, nonce: string) => `import { dockerStorage, flow } from "@regent/sdk";

export default flow(
  {
    name: "docker-bench",
    labels: ["docker-bench"],
    storage: dockerStorage({ registryUrl: ${JSON.stringify(registry)}, imageName: "regent-bench/docker", env: { NONCE: ${JSON.stringify(nonce)} } }),
  },
  async (_params, ctx) => {
    ctx.log.info(\`first-line \${performance.timeOrigin + performance.now()}\`);
    return null;
  },
);
`;

async function main(): Promise<void> {
  guardProcess("bench/docker", WATCHDOG_MS);
  const started = performance.now();
  testbed();
  const registry = process.env.REGENT_TEST_REGISTRY!;
  const base = process.env.REGENT_TEST_BASE_IMAGE!;

  const tmp = mkdtempSync(join(tmpdir(), "regent-bench-docker-"));
  const flowDir = mkdtempSync(join(BENCH_DIR, ".docker-flow-"));
  cleanUp.push(
    onCleanup(async () => {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(flowDir, { recursive: true, force: true });
    }),
  );

  progress(`building ${RUNTIME} (deploy/docker/build-runtime.mjs)…`);
  execFileSync(
    process.execPath,
    [join(REPO, "deploy/docker/build-runtime.mjs"), "--node-image", base, "--tag", RUNTIME],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  process.env.DOCKER_CONFIG = join(tmp, "docker");
  mkdirSync(process.env.DOCKER_CONFIG);
  execFileSync(
    "docker",
    ["login", registry, "-u", process.env.REGENT_TEST_REGISTRY_USER!, "--password-stdin"],
    {
      input: `${process.env.REGENT_TEST_REGISTRY_PASSWORD}\n`,
      stdio: ["pipe", "ignore", "ignore"],
    },
  );
  const configFile = join(tmp, "config.toml");
  writeFileSync(configFile, `[docker]\nruntime_image = "${RUNTIME}"\n`);
  const flowFile = join(flowDir, "flow.ts");
  writeFileSync(flowFile, flowSource(registry, randomUUID()));

  progress("starting the server…");
  const server = await startServerChild({ db: join(tmp, "regent.db"), configFile, children });
  const api = new Api(server.graphqlUrl, server);
  const cli = ["--config", configFile, "--api", server.graphqlUrl.replace(/\/graphql$/, "")];
  const run = (args: readonly string[]) =>
    runCliCommand({ args: [...cli, ...args], children, timeoutMs: 300_000 });
  await run(["project", "create", "bench"]);

  progress("registering the flow: its image is built and pushed…");
  let t = performance.now();
  await run(["register", flowFile, "--project", "bench"]);
  const firstRegisterMs = performance.now() - t;
  const hits: number[] = [];
  for (let i = 0; i < REGISTERS; i++) {
    t = performance.now();
    const out = await run(["register", flowFile, "--project", "bench"]);
    hits.push(performance.now() - t);
    if (!/unchanged/.test(out)) throw new Error(`register ${i + 2} was not a cache hit:\n${out}`);
  }

  progress(`starting a Docker agent; ${RUNS} runs, one at a time…`);
  const agent = await startCliChild({
    what: "the Docker agent child",
    args: [...cli, "agent", "docker", "start", "--label", "docker-bench", "--keep-containers"],
    ready: /waiting for flow runs/,
    children,
  });
  const docker = await import("dockerode").then((m) => new m.default());
  cleanUp.push(
    onCleanup(async () => {
      for (const c of await docker.listContainers({
        all: true,
        filters: { label: ["io.regent.flow-run-id"] },
      }))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
    }),
  );
  const { flow } = await api.request<{ flow: Array<{ version_group_id: string }> }>(
    `{ flow(where: { name: { _eq: "docker-bench" } }) { version_group_id } }`,
  );
  const toFirstLine: number[] = [];
  const createToFirstLine: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const { create_flow_run } = await api.request<{ create_flow_run: { id: string } }>(
        `mutation($g: uuid!) { create_flow_run(input: { version_group_id: $g }) { id } }`,
        { g: flow[0]!.version_group_id },
      );
      const created = now();
      const id = create_flow_run.id;
      const until = performance.now() + RUN_TIMEOUT_MS;
      for (;;) {
        const { flow_run_by_pk } = await api.request<{ flow_run_by_pk: { state: string } }>(
          `query($id: uuid!) { flow_run_by_pk(id: $id) { state } }`,
          { id },
        );
        if (flow_run_by_pk.state === "Success") break;
        if (["Failed", "Cancelled", "TimedOut"].includes(flow_run_by_pk.state) || performance.now() > until)
          throw new Error(`run ${id} is ${flow_run_by_pk.state}; agent output:\n${agent.output()}`);
        await sleep(20);
      }
      const { log } = await api.request<{ log: Array<{ message: string }> }>(
        `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id }, message: { _like: "first-line %" } }) { message } }`,
        { id },
      );
      const firstLine = Number(log[0]!.message.slice("first-line ".length));
      const [container] = await docker.listContainers({
        all: true,
        filters: { label: [`io.regent.flow-run-id=${id}`] },
      });
      const info = await docker.getContainer(container!.Id).inspect();
      toFirstLine.push(firstLine - epochMs(info.State.StartedAt));
      createToFirstLine.push(firstLine - created);
      await docker.getContainer(container!.Id).remove({ force: true });
    }
  } finally {
    await agent.stop();
    await server.stop();
  }

  const f = (x: number) => round(x, 1).toFixed(1);
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const m = machine();
  const hitMedian = median(hits);
  const p50 = percentile(toFirstLine, 50);
  const lines = [
    "",
    `bench/docker — ${m.cpus} × ${m.cpuModel}, Node ${m.node}, Docker engine and registry on 127.0.0.1`,
    "",
    "  regent register, whole command",
    `    first (build + push)      ${f(firstRegisterMs).padStart(8)} ms`,
    `    unchanged (cache hit), ${REGISTERS}×: median ${f(hitMedian)} ms, min ${f(Math.min(...hits))}, max ${f(Math.max(...hits))}   target ≤ ${TARGETS.registerCacheHitMs} ms   ${verdict(hitMedian <= TARGETS.registerCacheHitMs)}`,
    "",
    `  container start → the flow's first line, warm image, ${toFirstLine.length} runs`,
    `    p50  ${f(p50).padStart(8)} ms   target ≤ ${TARGETS.containerToFirstLineP50Ms} ms   ${verdict(p50 <= TARGETS.containerToFirstLineP50Ms)}`,
    `    p95  ${f(percentile(toFirstLine, 95)).padStart(8)} ms`,
    `    min  ${f(Math.min(...toFirstLine)).padStart(8)} ms   max ${f(Math.max(...toFirstLine))} ms`,
    "",
    "  create_flow_run → the flow's first line (claim, container create and start, the above)",
    `    p50  ${f(percentile(createToFirstLine, 50)).padStart(8)} ms   p95 ${f(percentile(createToFirstLine, 95))} ms`,
    "",
    `  total benchmark time: ${f((performance.now() - started) / 1000)} s`,
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

const cleanUp: Array<() => Promise<void>> = [];

try {
  await main();
  for (const step of cleanUp.reverse()) await step();
} catch (error) {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  await abort("failed", 1);
}
