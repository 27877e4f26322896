import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  BACKENDS,
  freePort,
  freshDatabase,
  graphqlData,
  startRegentProcess,
  stopRegentProcesses,
  type TestDatabase,
  regentTest as test,
} from "@regent/testkit";
import { afterEach, describe, expect } from "vitest";

// The whole loop with real processes: server, local agent, `regent execute flow-run` children, CLI.

const databases: TestDatabase[] = [];
afterEach(async () => {
  await stopRegentProcesses();
  for (const d of databases.splice(0)) await d.dispose();
});

const start = startRegentProcess;

const gql = graphqlData;

const waitForState = async (api: string, id: string, states: string[], timeoutMs = 30_000) => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { flow_run_by_pk } = await gql(
      api,
      `query($id: uuid!) { flow_run_by_pk(id: $id) { state state_message } }`,
      { id },
    ).catch(() => ({ flow_run_by_pk: null }));
    if (flow_run_by_pk && states.includes(flow_run_by_pk.state))
      return flow_run_by_pk as { state: string; state_message: string };
    if (Date.now() > until)
      throw new Error(
        `run ${id} did not reach ${states.join("/")} (last: ${JSON.stringify(flow_run_by_pk)})`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
};

const fixtures = new URL("./fixtures/loop", import.meta.url).pathname;
const examples = new URL("../../../examples", import.meta.url).pathname;
const importEnv = new URL("./fixtures/import-env/import-env.ts", import.meta.url).pathname;

for (const backend of BACKENDS) {
  describe(`server + local agent + executor on ${backend}`, () => {
    const dbUrl = async (tmp: string) => {
      if (backend === "sqlite") return join(tmp, "regent.db");
      const database = await freshDatabase("postgres");
      databases.push(database);
      await database.close();
      return database.url;
    };

    test("a flow's module sees its run config's env at import, also in executors started ahead of the run", async ({
      cli,
      tmp,
    }) => {
      const port = await freePort();
      const server = start(["server", "start", "--db", await dbUrl(tmp), "--port", String(port)]);
      await server.waitFor(/API\s+http/);
      const api = `http://127.0.0.1:${port}`;
      expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);
      expect((await cli(["register", importEnv, "--project", "demo", "--api", api])).code).toBe(0);
      const { flow } = await gql(api, `{ flow(where: { name: { _eq: "import-env" } }) { id } }`);
      const agent = start([
        "agent",
        "local",
        "start",
        "--accept-unlabeled",
        "--prestarted",
        "1",
        "--api",
        api,
      ]);
      await agent.waitFor(/waiting for flow runs/);
      const said = async (runConfig?: unknown) => {
        // Time for the pool to start its executor and (after the first run) load the flow in it.
        await new Promise((r) => setTimeout(r, 2_000));
        const { create_flow_run } = await gql(
          api,
          `mutation($id: uuid!, $rc: jsonb) { create_flow_run(input: { flow_id: $id, run_config: $rc }) { id } }`,
          { id: flow[0].id, rc: runConfig ?? null },
        );
        expect((await waitForState(api, create_flow_run.id, ["Success", "Failed"])).state).toBe("Success");
        const { log } = await gql(
          api,
          `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id }, message: { _like: "at import%" } }) { message } }`,
          { id: create_flow_run.id },
        );
        return log.map((l: { message: string }) => l.message);
      };
      // A pre-started executor that had not loaded the flow, then one that loaded it ahead of the run.
      expect(await said()).toEqual(["at import: from the flow; at run: from the flow"]);
      expect(await said()).toEqual(["at import: from the flow; at run: from the flow"]);
      // A run that sets the variable itself is not given an executor that loaded the flow without it.
      expect(await said({ env: { IMPORT_ENV_GREETING: "from the run" } })).toEqual([
        "at import: from the run; at run: from the run",
      ]);
    }, 60_000);

    test("register, run from the CLI with --watch and from a curl-style POST; kills and restarts lose nothing", async ({
      cli,
      tmp,
    }) => {
      const port = await freePort();
      const db = await dbUrl(tmp);
      let server = start(["server", "start", "--db", db, "--port", String(port)]);
      await server.waitFor(/API\s+http/);
      const api = `http://127.0.0.1:${port}`;
      expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);

      const reg = await cli(["register", examples, "--project", "demo", "--api", api]);
      expect(reg.stderr).toMatch(/bundling/);
      expect(reg.stdout).toMatch(/registered hello v1 \([0-9a-f-]{36}\)/);
      expect((await cli(["register", fixtures, "--project", "demo", "--api", api])).stdout).toMatch(
        /registered slow v1/,
      );
      const again = await cli(["register", join(examples, "hello.ts"), "--project", "demo", "--api", api]);
      expect(again.stdout).toMatch(/unchanged {2}hello v1/);

      const agent = start(["agent", "local", "start", "--accept-unlabeled", "--api", api]);
      await agent.waitFor(/waiting for flow runs/);

      // 1. the CLI: create and watch
      const watched = await cli([
        "run",
        "--name",
        "hello",
        "--project",
        "demo",
        "--param",
        "name=Ada",
        "--watch",
        "--api",
        api,
      ]);
      expect(watched.stdout).toMatch(/Hello, Ada!/);
      expect(watched.stdout).toMatch(/finished Success/);
      expect(watched.code).toBe(0);

      // 2. a plain POST of create_flow_run by flow id, as from any language
      const { flow } = await gql(api, `{ flow(where: { name: { _eq: "hello" } }) { id } }`);
      const { create_flow_run } = await gql(
        api,
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id, parameters: { name: "Grace" } }) { id } }`,
        { id: flow[0].id },
      );
      await waitForState(api, create_flow_run.id, ["Success"]);
      const { log } = await gql(
        api,
        `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }) { message } }`,
        { id: create_flow_run.id },
      );
      expect(log.map((l: { message: string }) => l.message)).toContain("Hello, Grace!");

      // 3. SIGKILL of the flow-run process: the run does not stay Running; Lazarus runs it again
      const killed = await cli(["run", "--name", "slow", "--project", "demo", "--json", "--api", api]);
      const killedId = JSON.parse(killed.stdout).id;
      await waitForState(api, killedId, ["Running"]);
      let pid: number | undefined;
      for (const until = Date.now() + 20_000; pid === undefined && Date.now() < until; ) {
        const { log: lines } = await gql(
          api,
          `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }) { message } }`,
          { id: killedId },
        );
        const m = lines.map((l: { message: string }) => /from pid (\d+)/.exec(l.message)).find(Boolean);
        if (m) pid = Number(m[1]);
        else await new Promise((r) => setTimeout(r, 100));
      }
      expect(pid).toBeDefined();
      process.kill(pid!, "SIGKILL");
      await waitForState(api, killedId, ["Success"], 60_000);
      const revived = await gql(
        api,
        `query($id: uuid!) { flow_run_by_pk(id: $id) { lazarus_count states { message } } }`,
        { id: killedId },
      );
      expect(revived.flow_run_by_pk.lazarus_count).toBe(1);
      expect(revived.flow_run_by_pk.states.map((s: { message: string | null }) => s.message)).toContainEqual(
        expect.stringMatching(/^Lazarus: the flow-run process was killed by signal SIGKILL .*; rescheduled/),
      );

      // 4. the server is SIGKILLed while a run executes: the run completes and every line it reported is kept
      const survivor = await cli([
        "run",
        "--name",
        "slow",
        "--project",
        "demo",
        "--param",
        "ticks=12",
        "--json",
        "--api",
        api,
      ]);
      const survivorId = JSON.parse(survivor.stdout).id;
      await waitForState(api, survivorId, ["Running"]);
      await new Promise((r) => setTimeout(r, 400));
      await server.stop("SIGKILL");
      await new Promise((r) => setTimeout(r, 700));
      server = start(["server", "start", "--db", db, "--port", String(port)]);
      await server.waitFor(/API\s+http/);
      await waitForState(api, survivorId, ["Success"], 60_000);
      const kept = await gql(
        api,
        `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }) { message } task_run(where: { flow_run_id: { _eq: $id } }) { state } }`,
        { id: survivorId },
      );
      expect(kept.log.filter((l: { message: string }) => l.message.startsWith("tick "))).toHaveLength(12);
      expect(kept.task_run.map((t: { state: string }) => t.state)).toEqual(Array(12).fill("Success"));
    }, 120_000);

    test("bad registrations are refused and leave nothing behind", async ({ cli, tmp }) => {
      const port = await freePort();
      const server = start(["server", "start", "--db", await dbUrl(tmp), "--port", String(port)]);
      await server.waitFor(/API\s+http/);
      const api = `http://127.0.0.1:${port}`;
      const missing = await cli(["register", join(examples, "hello.ts"), "--project", "nope", "--api", api]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/PROJECT_NOT_FOUND.*regent project create nope/);
      await cli(["project", "create", "demo", "--api", api]);
      const broken = join(tmp, "broken.ts");
      const { writeFile } = await import("node:fs/promises");
      await writeFile(
        broken,
        `import { flow } from "@regent/sdk";\nexport default flow({ name: "b" }, async () => { const x = ; });\n`,
      );
      const bad = await cli(["register", broken, "--project", "demo", "--api", api]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/broken\.ts:2:\d+: error/);
      // A schedule is checked before anything is registered: every wrong clock is named.
      const folder = join(tmp, "scheduled");
      const { mkdir } = await import("node:fs/promises");
      await mkdir(folder);
      const scheduled = (name: string, schedule: string) =>
        `import { cron, flow, interval } from "@regent/sdk";\nexport default flow({ name: "${name}", schedule: ${schedule} }, async () => 1);\n`;
      await writeFile(
        join(folder, "a.ts"),
        scheduled("good", `cron("0 9 * * 1-5", { timezone: "Europe/Paris" })`),
      );
      await writeFile(
        join(folder, "b.ts"),
        scheduled(
          "wrong",
          `[cron("0 25 * * *"), interval("1h"), cron("0 9 * * *", { timezone: "Mars/Base" })]`,
        ),
      );
      const wrong = await cli(["register", folder, "--project", "demo", "--api", api]);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(
        /b\.ts: flow wrong: invalid schedule: clock 1 \(cron\): .*hour.*clock 3 \(cron\): unknown time zone "Mars\/Base"/,
      );
      const { flow_aggregate } = await gql(api, `{ flow_aggregate { aggregate { count } } }`);
      expect(flow_aggregate.aggregate.count).toBe(0);
      await rm(join(folder, "b.ts"));
      const good = await cli(["register", folder, "--project", "demo", "--api", api]);
      expect(good.code, good.stderr).toBe(0);
      const { flow } = await gql(api, `{ flow { name schedule } }`);
      expect(flow).toEqual([
        {
          name: "good",
          schedule: { clocks: [{ type: "cron", cron: "0 9 * * 1-5", timezone: "Europe/Paris" }] },
        },
      ]);
      // regent schedule: the next fire times of the newest version, pause and resume.
      const show = await cli([
        "schedule",
        "show",
        "--name",
        "good",
        "--project",
        "demo",
        "--count",
        "3",
        "--json",
        "--api",
        api,
      ]);
      expect(show.code, show.stderr).toBe(0);
      const shown = JSON.parse(show.stdout);
      expect(shown.schedule_active).toBe(true);
      expect(shown.next).toHaveLength(3);
      for (const f of shown.next) {
        const at = new Date(f.at);
        expect(at.getTime()).toBeGreaterThan(Date.now() - 60_000);
        // 09:00 in Paris on a weekday: 07:00 or 08:00 UTC, Monday to Friday.
        expect([7, 8]).toContain(at.getUTCHours());
        expect(at.getUTCMinutes()).toBe(0);
        expect([1, 2, 3, 4, 5]).toContain(at.getUTCDay());
      }
      const paused = await cli(["schedule", "pause", "--name", "good", "--project", "demo", "--api", api]);
      expect(paused.stdout).toMatch(/schedule of good \(version 1\) paused/);
      expect((await gql(api, `{ flow { schedule_active } }`)).flow).toEqual([{ schedule_active: false }]);
      const table = await cli(["schedule", "show", "--name", "good", "--project", "demo", "--api", api]);
      expect(table.stdout).toMatch(/good \(version 1\): schedule paused\n\nnext +clock/);
      await cli(["schedule", "resume", "--name", "good", "--project", "demo", "--api", api]);
      expect((await gql(api, `{ flow { schedule_active } }`)).flow).toEqual([{ schedule_active: true }]);
      const unknown = await cli(["schedule", "show", "--name", "nope", "--project", "demo", "--api", api]);
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toMatch(/no flow nope in project demo \(see regent get flows --project demo\)/);
      const action = await cli(["schedule", "stop", "--name", "good", "--project", "demo", "--api", api]);
      expect(action.code).not.toBe(0);
      expect(action.stderr).toMatch(/regent schedule takes show, pause or resume, not "stop"/);
      const count = await cli([
        "schedule",
        "show",
        "--name",
        "good",
        "--project",
        "demo",
        "--count",
        "0",
        "--api",
        api,
      ]);
      expect(count.code).not.toBe(0);
      expect(count.stderr).toMatch(/--count takes a whole number from 1 to 100, not "0"/);
      await writeFile(
        join(folder, "c.ts"),
        `import { flow } from "@regent/sdk";\nexport default flow({ name: "plain" }, async () => 1);\n`,
      );
      await cli(["register", folder, "--project", "demo", "--api", api]);
      const plain = await cli(["schedule", "pause", "--name", "plain", "--project", "demo", "--api", api]);
      expect(plain.code).not.toBe(0);
      expect(plain.stderr).toMatch(
        /flow plain has no schedule: give it one with flow\(\{ schedule: cron\(…\) \}\)/,
      );
    });
  });
}
