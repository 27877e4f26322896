import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BACKENDS,
  graphqlData,
  type RegentFixtures,
  type RegentProcess,
  startPrivatePostgres,
  startRegentProcess,
  regentTest as test,
} from "@regent/testkit";
import { expect } from "vitest";
import { processAlive as alive, until, useServerDatabases } from "./helpers.js";

// Fault injection with real processes: the executor of a run is killed, stopped or cancelled under it,
// and the server (Lazarus) and the agent must end the run in the right state with nothing lost.

const dbFor = useServerDatabases();
const fixtures = new URL("./fixtures/lazarus", import.meta.url).pathname;
const runIdOf = (output: string) => /\(([0-9a-f-]{36})\)/.exec(output)?.[1];
const calls = (dir: string) => readFileSync(join(dir, "calls.txt"), "utf8").trim().split("\n");

/** A server on `db` whose Lazarus hears of a silent executor within 2 s; resolves with its API URL. */
async function startServer(
  db: string,
  heartbeatTimeout = "2s",
): Promise<{ api: string; server: RegentProcess }> {
  const server = startRegentProcess(["server", "start", "--db", db, "--port", "0"], {
    REGENT__SERVER__HEARTBEAT_TIMEOUT: heartbeatTimeout,
  });
  return { api: (await server.waitFor(/API\s+(http:\/\/127\.0\.0\.1:\d+)\/graphql/))[1]!, server };
}

/** Project demo with the fixtures registered into it. */
async function registerFixtures(cli: RegentFixtures["cli"], api: string): Promise<void> {
  expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);
  const registered = await cli(["register", fixtures, "--project", "demo", "--api", api]);
  expect(registered.code, registered.stderr).toBe(0);
}

const startAgent = (api: string) =>
  startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--prestarted", "0", "--api", api]);

/** A server (SQLite), the fixtures registered, and an agent. */
async function setUp(cli: RegentFixtures["cli"], tmp: string, heartbeatTimeout?: string): Promise<string> {
  const { api } = await startServer(await dbFor("sqlite", tmp), heartbeatTimeout);
  await registerFixtures(cli, api);
  startAgent(api);
  return api;
}

const runOf = async (api: string, id: string) =>
  (
    await graphqlData(
      api,
      `query($id: uuid!) { flow_run_by_pk(id: $id) {
         state state_message restart_count lazarus_count
         states(order_by: [{ version: asc }]) { state message }
         task_runs(order_by: [{ run_key: asc }]) { run_key state attempts } } }`,
      { id },
    )
  ).flow_run_by_pk;

const pidOf = (tmp: string) => Number(readFileSync(join(tmp, "work.pid"), "utf8"));

/** `regent run --name lazarus` with the test's folder as its `dir`, and `how` (`--watch`, `--json`). */
const runLazarus = (cli: RegentFixtures["cli"], api: string, tmp: string, how: "--watch" | "--json") =>
  cli(["run", "--name", "lazarus", "--project", "demo", "--param", `dir=${tmp}`, how, "--api", api]);

/** `regent run --name lazarus --watch`, its work task held while <tmp>/hang exists. */
function watchHeldRun(cli: RegentFixtures["cli"], api: string, tmp: string) {
  writeFileSync(join(tmp, "hang"), "");
  return runLazarus(cli, api, tmp, "--watch");
}

/** Resolves with the pid of the executor whose work task has started. */
async function workStarted(tmp: string): Promise<number> {
  await until("the work task to start", async () => (existsSync(join(tmp, "work.pid")) ? true : undefined));
  return pidOf(tmp);
}

/**
 * SIGSTOPs the executor of the held run once its work task has started, and resolves with its pid once
 * Lazarus (heartbeats missed) has handed the run to a second executor. The caller SIGCONTs it.
 */
async function silenceUntilReplaced(tmp: string): Promise<number> {
  const silent = await workStarted(tmp);
  process.kill(silent, "SIGSTOP");
  try {
    await until("a second executor", async () => (pidOf(tmp) !== silent ? true : undefined), 30_000);
  } catch (error) {
    process.kill(silent, "SIGCONT");
    throw error;
  }
  return silent;
}

test("SIGKILL of the flow-run process mid-task: Lazarus reschedules it, and finished tasks do not run again", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  const watching = watchHeldRun(cli, api, tmp);
  const first = await workStarted(tmp);
  // Mid-task as the server sees it: the work task's Running state has arrived (it goes out in a batch a
  // moment after the task starts; a kill before that would leave the server no first attempt to count).
  await until("the server to hear the work task start", async () => {
    const { task_run } = await graphqlData(
      api,
      `{ task_run(where: { run_key: { _eq: "work#1" }, state: { _eq: "Running" } }) { id } }`,
    );
    return task_run.length > 0 ? true : undefined;
  });
  process.kill(first, "SIGKILL");
  rmSync(join(tmp, "hang"));
  const watched = await watching;
  expect(watched.code, watched.stdout + watched.stderr).toBe(0);
  const id = runIdOf(watched.stdout)!;
  const run = await runOf(api, id);
  expect(run).toMatchObject({ state: "Success", restart_count: 1, lazarus_count: 1 });
  expect(run.states.map((s: { message: string }) => s.message)).toContain(
    `Lazarus: the flow-run process was killed by signal SIGKILL without reaching a final state; rescheduled (restart 1 of 2)`,
  );
  expect(run.task_runs).toEqual([
    { run_key: "prepare#1", state: "Success", attempts: 1 },
    { run_key: "work#1", state: "Success", attempts: 2 },
  ]);
  const lines = calls(tmp);
  expect(lines.filter((l) => l === "prepare")).toHaveLength(1);
  expect(lines.filter((l) => l.startsWith("work "))).toEqual([`work ${first}`, `work ${pidOf(tmp)}`]);
}, 120_000);

test("killed on every attempt: the run fails after the flow's maxRestarts, with every reason in its history", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  writeFileSync(join(tmp, "suicide"), "");
  const watched = await runLazarus(cli, api, tmp, "--watch");
  expect(watched.code, watched.stdout + watched.stderr).toBe(1);
  const run = await runOf(api, runIdOf(watched.stdout)!);
  expect(run.state).toBe("Failed");
  expect(run.state_message).toBe(
    "the flow-run process was killed by signal SIGKILL without reaching a final state; Lazarus gave up after 2 restarts",
  );
  const lazarus = run.states.filter((s: { message: string | null }) => s.message?.startsWith("Lazarus:"));
  expect(lazarus.map((s: { message: string }) => s.message.replace(/.*\(restart/, "(restart"))).toEqual([
    "(restart 1 of 2)",
    "(restart 2 of 2)",
  ]);
  expect(run.task_runs).toEqual([
    { run_key: "prepare#1", state: "Success", attempts: 1 },
    { run_key: "work#1", state: "Failed", attempts: 3 },
  ]);
  expect(calls(tmp).filter((l) => l === "prepare")).toHaveLength(1);
}, 120_000);

test("an executor that goes silent (SIGSTOP) is replaced; when it wakes it is told so and changes nothing", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  const watching = watchHeldRun(cli, api, tmp);
  // Within the 2 s heartbeat timeout (+ a loop) the run is rescheduled and a second executor starts.
  const silent = await silenceUntilReplaced(tmp);
  try {
    rmSync(join(tmp, "hang"));
    const watched = await watching;
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);
    const id = runIdOf(watched.stdout)!;
    const done = await runOf(api, id);
    expect(done.state_message).not.toMatch(/Lazarus/);
    expect(done.states.map((s: { message: string }) => s.message)).toContainEqual(
      expect.stringMatching(
        /^Lazarus: no heartbeat from its executor since .* \(heartbeat_timeout 2 s\); rescheduled/,
      ),
    );
    // The old executor wakes: its work ends, but the run it had is no longer its own.
    process.kill(silent, "SIGCONT");
    await until("the old executor to exit", async () => (alive(silent) ? undefined : true), 30_000);
    const after = await runOf(api, id);
    expect(after.state).toBe("Success");
    expect(after.states).toEqual(done.states);
    expect(after.task_runs).toEqual(done.task_runs);
  } finally {
    if (alive(silent)) process.kill(silent, "SIGCONT");
  }
}, 120_000);

test("regent cancel during a mapped task: the run ends Cancelled and no task run is left running", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  const watching = cli(["run", "--name", "slow-map", "--project", "demo", "--watch", "--api", api]);
  const id = await until("a running item", async () => {
    const { task_run } = await graphqlData(
      api,
      `{ task_run(where: { state: { _eq: "Success" }, task_key: { _eq: "item" } }, limit: 1) { flow_run_id } }`,
    );
    return task_run[0]?.flow_run_id as string | undefined;
  });
  const cancelled = await cli(["cancel", id, "--api", api]);
  expect(cancelled.code, cancelled.stderr).toBe(0);
  expect(cancelled.stdout).toMatch(/cancelling flow run .*: Cancelling/);
  const watched = await watching;
  expect(watched.code).toBe(1);
  expect(watched.stdout).toMatch(/finished Cancelled/);
  const run = await runOf(api, id);
  expect(run.state).toBe("Cancelled");
  const byState: Record<string, number> = {};
  for (const t of run.task_runs) byState[t.state] = (byState[t.state] ?? 0) + 1;
  expect(Object.keys(byState).sort()).toEqual(["Cancelled", "Mapped", "Success"]);
  expect(byState.Cancelled).toBeGreaterThan(0);
}, 120_000);

test("SIGKILL of the agent: the run it launched still finishes, and a new agent launches nothing twice", async ({
  cli,
  tmp,
}) => {
  const { api } = await startServer(await dbFor("sqlite", tmp));
  await registerFixtures(cli, api);
  const agent = startAgent(api);
  writeFileSync(join(tmp, "hang"), "");
  const started = await runLazarus(cli, api, tmp, "--json");
  const id = JSON.parse(started.stdout).id as string;
  const executor = await workStarted(tmp);
  await agent.stop("SIGKILL");
  // The executor outlives its agent (its output now goes nowhere) and goes on.
  rmSync(join(tmp, "hang"));
  const replacement = startAgent(api);
  await replacement.waitFor(/waiting for flow runs/);
  await until("the run to succeed", async () =>
    (await runOf(api, id)).state === "Success" ? true : undefined,
  );
  await until("the executor to exit", async () => (alive(executor) ? undefined : true));
  const run = await runOf(api, id);
  expect(run).toMatchObject({ state: "Success", restart_count: 0, lazarus_count: 0 });
  expect(calls(tmp).filter((l) => l.startsWith("work "))).toEqual([`work ${executor}`]);
}, 120_000);

test("two server replicas on one PostgreSQL: one is killed, and Lazarus goes on in the other", async ({
  cli,
  tmp,
}) => {
  const db = await dbFor("postgres", tmp);
  const { api } = await startServer(db);
  const { server: doomed } = await startServer(db);
  await registerFixtures(cli, api);
  startAgent(api);
  // Both replicas run their services' loops, one at a time per service; one of them now dies.
  await new Promise((r) => setTimeout(r, 1_500));
  await doomed.stop("SIGKILL");

  const watching = watchHeldRun(cli, api, tmp);
  const silent = await silenceUntilReplaced(tmp);
  try {
    rmSync(join(tmp, "hang"));
    const watched = await watching;
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);
    expect((await runOf(api, runIdOf(watched.stdout)!)).lazarus_count).toBe(1);
  } finally {
    process.kill(silent, "SIGCONT");
  }
  await until("the old executor to exit", async () => (alive(silent) ? undefined : true), 30_000);
}, 120_000);

test("regent run --timeout: the run's own maximum duration ends it TimedOut; a bad one is refused", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  const bad = await cli([
    "run",
    "--name",
    "slow-map",
    "--project",
    "demo",
    "--timeout",
    "soon",
    "--api",
    api,
  ]);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/timeout/);
  const watched = await cli([
    "run",
    "--name",
    "slow-map",
    "--project",
    "demo",
    "--timeout",
    "2s",
    "--watch",
    "--api",
    api,
  ]);
  expect(watched.code).toBe(1);
  expect(watched.stdout).toMatch(/TimedOut: flow run exceeded its timeout of 2000 ms/);
  const run = await runOf(api, runIdOf(watched.stdout)!);
  expect(run.state).toBe("TimedOut");
  expect(
    run.task_runs.filter((t: { state: string }) => !["Success", "Cancelled", "Mapped"].includes(t.state)),
  ).toEqual([]);
}, 120_000);

/** Marks run `id` `type` as a user would (the UI's "mark as Failed"), at the version it has now. */
async function mark(api: string, id: string, type: string): Promise<void> {
  const { flow_run_by_pk } = await graphqlData(
    api,
    `query($id: uuid!) { flow_run_by_pk(id: $id) { state_version } }`,
    { id },
  );
  const { set_flow_run_states } = await graphqlData(
    api,
    `mutation($id: uuid!, $v: Int!, $type: state_type!) {
       set_flow_run_states(input: { states: [{ flow_run_id: $id, version: $v, state: { type: $type, message: "marked by a user" } }] }) { refused { message } } }`,
    { id, v: flow_run_by_pk.state_version, type },
  );
  expect(set_flow_run_states.refused).toEqual([]);
}

test("a run marked Failed by a user mid-map: its executor stops its task runs, and none is left running", async ({
  cli,
  tmp,
}) => {
  // A heartbeat timeout well past the executor's second to stop: the zombie killer is not what ends them.
  const api = await setUp(cli, tmp, "8s");
  const started = await cli(["run", "--name", "slow-map", "--project", "demo", "--json", "--api", api]);
  const id = JSON.parse(started.stdout).id as string;
  await until("a finished item", async () => {
    const { task_run } = await graphqlData(
      api,
      `query($id: uuid!) { task_run(where: { flow_run_id: { _eq: $id }, state: { _eq: "Success" }, task_key: { _eq: "item" } }, limit: 1) { id } }`,
      { id },
    );
    return task_run[0];
  });
  await mark(api, id, "Failed");
  const run = await until("every task run to end", async () => {
    const r = await runOf(api, id);
    return r.task_runs.every((t: { state: string }) => ["Success", "Cancelled", "Mapped"].includes(t.state))
      ? r
      : undefined;
  });
  // The user's mark stands; the items not done were stopped (Cancelled), not run to the end.
  expect(run.state).toBe("Failed");
  expect(run.state_message).toBe("marked by a user");
  expect(run.task_runs.filter((t: { state: string }) => t.state === "Cancelled").length).toBeGreaterThan(0);
}, 120_000);

test("zombie killer: a run marked Failed while its executor is frozen has its started task runs ended", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  writeFileSync(join(tmp, "hang"), "");
  const id = JSON.parse((await runLazarus(cli, api, tmp, "--json")).stdout).id as string;
  const frozen = await workStarted(tmp);
  const workTask = async () =>
    (
      await graphqlData(
        api,
        `query($id: uuid!) { task_run(where: { flow_run_id: { _eq: $id }, task_key: { _eq: "work" } }) { state state_message } }`,
        { id },
      )
    ).task_run[0] as { state: string; state_message: string | null } | undefined;
  // Frozen once the server knows the work task is Running (its executor reports in batches).
  await until("the work task Running on the server", async () =>
    (await workTask())?.state === "Running" ? true : undefined,
  );
  process.kill(frozen, "SIGSTOP");
  try {
    await mark(api, id, "Failed");
    // Nothing is left to end the work task: the zombie killer does, a heartbeat timeout (2 s) later.
    const work = await until("the work task to end", async () => {
      const task = await workTask();
      return task?.state === "Running" ? undefined : task;
    });
    expect(work.state).toBe("Failed");
    expect(work.state_message).toMatch(
      /^zombie: its flow run ended Failed at .* and no executor is running it any more$/,
    );
    expect(await runOf(api, id)).toMatchObject({ state: "Failed", lazarus_count: 0 });
  } finally {
    process.kill(frozen, "SIGKILL");
  }
}, 120_000);

test.skipIf(!BACKENDS.includes("postgres"))(
  "its PostgreSQL restarted mid-run (down past the heartbeat timeout): everything reconnects, the run succeeds in its first execution, nothing is lost",
  async ({ cli }) => {
    const cluster = await startPrivatePostgres();
    try {
      const { api } = await startServer(cluster.url);
      expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);
      const slow = new URL("./fixtures/loop/slow.ts", import.meta.url).pathname;
      expect((await cli(["register", slow, "--project", "demo", "--api", api])).code).toBe(0);
      startAgent(api);
      const started = await cli([
        "run",
        "--name",
        "slow",
        "--project",
        "demo",
        "--param",
        "ticks=30",
        "--json",
        "--api",
        api,
      ]);
      const id = JSON.parse(started.stdout).id as string;
      const ticks = async () =>
        (
          await graphqlData(
            api,
            `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }) { message } }`,
            {
              id,
            },
          )
        ).log.filter((l: { message: string }) => l.message.startsWith("tick ")) as { message: string }[];
      await until("the first ticks", async () => ((await ticks()).length >= 3 ? true : undefined));
      await cluster.stop("immediate");
      // Down longer than the heartbeat timeout (2 s): the executor's heartbeats, states and logs all fail.
      await new Promise((r) => setTimeout(r, 4_000));
      await cluster.start();
      await until("the run to end (or be taken for lost)", async () => {
        const r = await runOf(api, id);
        return ["Success", "Failed"].includes(r.state) || r.lazarus_count > 0 ? true : undefined;
      });
      const run = await runOf(api, id);
      // Not taken for lost: the silence was the server's, not the executor's.
      expect(run).toMatchObject({ state: "Success", restart_count: 0, lazarus_count: 0 });
      expect(run.task_runs.map((t: { state: string }) => t.state)).toEqual(Array(30).fill("Success"));
      const lines = await ticks();
      expect(lines).toHaveLength(30);
      // One executor ran every tick.
      expect(new Set(lines.map((l) => /from pid (\d+)/.exec(l.message)?.[1])).size).toBe(1);
    } finally {
      await cluster.dispose();
    }
  },
  120_000,
);
