import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { graphqlData, type RegentFixtures, startRegentProcess, regentTest as test } from "@regent/testkit";
import { expect } from "vitest";
import { processAlive as alive, startServerWithFlows, until, useServerDatabases } from "./helpers.js";

// The cluster task runner end to end: a server, a local agent, the flow-run process it starts, and the
// `regent worker` processes that process starts — all real processes. Each worker execution appends its
// item to a file named after its pid, so executions are counted beside results.

const dbFor = useServerDatabases();
const fixtures = new URL("./fixtures/cluster", import.meta.url).pathname;

async function lastRun(api: string, flowName: string) {
  const { flow_run } = await graphqlData(
    api,
    `query($name: String!) { flow_run(where: { flow: { name: { _eq: $name } } }, order_by: [{ created: desc }], limit: 1) {
       id state state_message states(order_by: [{ version: desc }], limit: 1) { data }
     } }`,
    { name: flowName },
  );
  return flow_run[0] as {
    id: string;
    state: string;
    state_message: string | null;
    states: Array<{ data: { result?: unknown } | null }>;
  };
}

/** Items each worker process executed (its file), by pid. */
function executions(dir: string): Map<number, number[]> {
  const byPid = new Map<number, number[]>();
  for (const name of readdirSync(dir).filter((n) => n.startsWith("worker-"))) {
    const items = readFileSync(join(dir, name), "utf8").split("\n").filter(Boolean).map(Number);
    byPid.set(Number(name.slice("worker-".length)), items);
  }
  return byPid;
}

/** A server with the cluster fixtures registered and a local agent taking its runs; its API URL. */
async function serverWithAgent(cli: RegentFixtures["cli"], tmp: string): Promise<string> {
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), fixtures);
  startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--api", api]);
  return api;
}

/** The newest run of `flowName` once it has ended. */
const ended = (api: string, flowName: string, timeoutMs: number) =>
  until(
    `the ${flowName} run to end`,
    async () => {
      const r = await lastRun(api, flowName);
      return ["Success", "Failed", "Cancelled"].includes(r.state) ? r : undefined;
    },
    timeoutMs,
  );

/** The pids of the workers that executed items in `dir`, once there are `count`, each with `atLeast` items. */
const busyWorkers = (dir: string, count: number, atLeast: number) =>
  until(`${count} workers to be busy`, async () => {
    try {
      const byPid = executions(dir);
      return byPid.size === count && [...byPid.values()].every((items) => items.length >= atLeast)
        ? [...byPid.keys()]
        : undefined;
    } catch {
      return undefined; // the folder is not there yet
    }
  });

async function startRun(
  cli: RegentFixtures["cli"],
  api: string,
  name: string,
  params: Record<string, unknown>,
) {
  const run = await cli([
    "run",
    "--name",
    name,
    "--project",
    "demo",
    "--params-json",
    JSON.stringify(params),
    "--api",
    api,
  ]);
  expect(run.code, run.stdout + run.stderr).toBe(0);
}

test("a 10,000-item map runs across 4 local worker processes: every result is right, in place, once", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);
  const dir = join(tmp, "wide");
  await startRun(cli, api, "wide", { n: 10_000, dir });
  const run = await ended(api, "wide", 180_000);
  expect(run.state, run.state_message ?? "").toBe("Success");
  const result = run.states[0]!.data!.result as {
    count: number;
    wrong: number;
    workers: number[];
    flowPid: number;
  };
  expect(result.count).toBe(10_000);
  expect(result.wrong).toBe(0);
  expect(result.workers).toHaveLength(4);
  expect(result.workers).not.toContain(result.flowPid);

  // Every item was executed, by the workers that sent the results, and (no worker died) exactly once.
  const byPid = executions(dir);
  expect([...byPid.keys()].sort()).toEqual([...result.workers].sort());
  const all = [...byPid.values()].flat().sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: 10_000 }, (_, i) => i));

  // The server has each mapped task run once, Success.
  const { task_run_aggregate } = await graphqlData(
    api,
    `query($id: uuid!) { task_run_aggregate(where: { flow_run_id: { _eq: $id }, map_index: { _gte: 0 }, state: { _eq: "Success" } }) { aggregate { count } } }`,
    { id: run.id },
  );
  expect(task_run_aggregate.aggregate.count).toBe(10_000);
  // The workers are gone once the run ended.
  await until("the workers to end", async () => (result.workers.some(alive) ? undefined : true), 20_000);
}, 240_000);

test("a worker SIGKILLed mid-map: its task runs go to the others after its heartbeat timeout, and all complete", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);
  const dir = join(tmp, "killed");
  await startRun(cli, api, "wide", { n: 400, dir, pauseMs: 40 });
  // Once every worker has done some of the work, one of them is killed.
  const victim = (await busyWorkers(dir, 4, 3))[0];
  process.kill(victim!, "SIGKILL");
  const run = await ended(api, "wide", 120_000);
  expect(run.state, run.state_message ?? "").toBe("Success");
  const result = run.states[0]!.data!.result as { count: number; wrong: number; workers: number[] };
  expect(result.count).toBe(400);
  expect(result.wrong).toBe(0);
  // The killed worker sent no result after it died; a replacement took its place.
  expect(result.workers.length).toBeGreaterThanOrEqual(4);
  // Every item ran at least once (at-least-once: one the victim was running may have run twice).
  const ran = new Set([...executions(dir).values()].flat());
  expect(ran.size).toBe(400);
  const { log } = await graphqlData(
    api,
    `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id }, message: { _like: "%cluster worker%" } }) { message } }`,
    { id: run.id },
  );
  expect(log.map((l: { message: string }) => l.message).join("\n")).toMatch(/SIGKILL/);
}, 180_000);

test("a worker told to stop (SIGTERM) gives its task runs back to the queue; none fails for it", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);
  const dir = join(tmp, "terminated");
  await startRun(cli, api, "wide", { n: 300, dir, pauseMs: 40 });
  const victim = (await busyWorkers(dir, 4, 3))[1];
  process.kill(victim!, "SIGTERM");
  const run = await ended(api, "wide", 120_000);
  expect(run.state, run.state_message ?? "").toBe("Success");
  expect(run.states[0]!.data!.result).toMatchObject({ count: 300, wrong: 0 });
  await until("the stopped worker to end", async () => (alive(victim!) ? undefined : true), 20_000);
  const { task_run_aggregate } = await graphqlData(
    api,
    `query($id: uuid!) { task_run_aggregate(where: { flow_run_id: { _eq: $id }, state: { _neq: "Success" }, map_index: { _gte: 0 } }) { aggregate { count } } }`,
    { id: run.id },
  );
  expect(task_run_aggregate.aggregate.count).toBe(0);
}, 180_000);

test("CPU-bound task runs that hold a worker's thread past the heartbeat timeout are not run twice", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);
  const dir = join(tmp, "spin");
  await startRun(cli, api, "spin", { dir });
  const run = await ended(api, "spin", 90_000);
  expect(run.state, run.state_message ?? "").toBe("Success");
  expect(run.states[0]!.data!.result).toEqual([0, 1]);
  // Each item ran once: the heartbeat (a thread of its own) went on while the task held the worker.
  const ran = [...executions(dir).values()].flat().sort();
  expect(ran).toEqual([0, 1]);
}, 120_000);

test("cancelling a run stops all its workers, even while their tasks ignore the signal", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);
  const dir = join(tmp, "slow");
  await startRun(cli, api, "slow", { dir });
  const pids = await busyWorkers(dir, 2, 1);
  const { id } = await lastRun(api, "slow");
  const cancel = await cli(["cancel", id, "--api", api]);
  expect(cancel.code, cancel.stderr).toBe(0);
  await until(
    "the run to be Cancelled",
    async () => ((await lastRun(api, "slow")).state === "Cancelled" ? true : undefined),
    60_000,
  );
  await until("its workers to end", async () => (pids.some(alive) ? undefined : true), 30_000);
}, 120_000);

test("an argument or a result that cannot cross to a worker fails its task run, naming the task and where", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);
  await startRun(cli, api, "unserializable", {});
  const run = await ended(api, "unserializable", 60_000);
  expect(run.state, run.state_message ?? "").toBe("Success");
  const result = run.states[0]!.data!.result as { argument: string; result: string };
  expect(result.argument).toMatch(
    /^the input of task "use-connection" cannot be serialised: input\.onRow is a function \(onRow\)\. A cluster worker runs in another process/,
  );
  expect(result.result).toMatch(
    /^the result of task "open-connection" cannot be serialised: the result is an instance of Connection \(not a plain object\)/,
  );
}, 90_000);

test("without a server (regent run), the same flow runs its task runs in worker threads", async ({
  cli,
  tmp,
}) => {
  const run = await cli([
    "run",
    join(fixtures, "wide.ts"),
    "--params-json",
    JSON.stringify({ n: 50, dir: join(tmp, "local") }),
    "--json",
  ]);
  expect(run.code, run.stdout + run.stderr).toBe(0);
  expect(JSON.parse(run.stdout).result).toMatchObject({ count: 50, wrong: 0 });
}, 60_000);

test("regent worker refuses bad flags, saying which", async ({ cli }) => {
  const noRun = await cli(["worker"], { env: { REGENT__FLOW_RUN_ID: "" } });
  expect(noRun.code).not.toBe(0);
  expect(noRun.stderr).toMatch(/regent worker needs --flow-run ID \(or REGENT__FLOW_RUN_ID/);
  const concurrency = await cli(["worker", "--flow-run", crypto.randomUUID(), "--concurrency", "0"]);
  expect(concurrency.code).not.toBe(0);
  expect(concurrency.stderr).toMatch(/--concurrency takes a whole number ≥ 1 \(got "0"\)/);
  const timeout = await cli(["worker", "--flow-run", crypto.randomUUID(), "--heartbeat-timeout", "soon"]);
  expect(timeout.code).not.toBe(0);
  expect(timeout.stderr).toMatch(/--heartbeat-timeout/);
});
