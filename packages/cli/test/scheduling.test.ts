import { BACKENDS, graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import { startServerWithFlows, until, useServerDatabases } from "./helpers.js";

// Schedules end to end: the server's scheduler creates runs ahead, the local agent runs them as they
// fall due; `regent schedule pause` removes what is ahead; `regent backfill` fills a past window.

const dbFor = useServerDatabases();
const gql = graphqlData;
const fixtures = new URL("./fixtures/scheduling", import.meta.url).pathname;

const RUNS = `query($name: String!) {
  flow_run(where: { flow: { name: { _eq: $name } } }, order_by: [{ scheduled_start_time: asc }]) {
    state scheduled_start_time auto_scheduled parameters
  }
}`;

for (const backend of BACKENDS) {
  describe(`scheduling with the server and a local agent on ${backend}`, () => {
    test("a scheduled flow runs by itself; pause removes the runs ahead; backfill fills a past window", async ({
      cli,
      tmp,
    }) => {
      const api = await startServerWithFlows(cli, await dbFor(backend, tmp), fixtures);
      startRegentProcess([
        "agent",
        "local",
        "start",
        "--accept-unlabeled",
        "--prestarted",
        "0",
        "--api",
        api,
      ]);

      // Nobody starts these runs: the scheduler made them, the agent takes each as it falls due.
      const ran = await until("two scheduled runs of tick to succeed", async () => {
        const { flow_run } = await gql(api, RUNS, { name: "tick" });
        const done = flow_run.filter((r: any) => r.state === "Success");
        return done.length >= 2 ? done : undefined;
      });
      for (const r of ran) expect(r).toMatchObject({ auto_scheduled: true, parameters: { n: 7 } });

      const paused = await cli(["schedule", "pause", "--name", "tick", "--project", "demo", "--api", api]);
      expect(paused.code, paused.stderr).toBe(0);
      const { flow_run: ahead } = await gql(
        api,
        `query($now: timestamptz!) { flow_run(where: { flow: { name: { _eq: "tick" } }, state: { _eq: "Scheduled" }, scheduled_start_time: { _gt: $now } }) { id } }`,
        { now: new Date(Date.now() + 1_000).toISOString() },
      );
      expect(ahead).toEqual([]);

      // Backfill: the runs daily's schedule would have made on 1–3 January, with its clock's parameters.
      const args = [
        "--name",
        "daily",
        "--project",
        "demo",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-03T23:59:59Z",
      ];
      const dry = await cli(["backfill", ...args, "--dry-run", "--api", api]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/3 fire times, would create 3 runs, 0 already had one/);
      const filled = await cli(["backfill", ...args, "--json", "--api", api]);
      expect(filled.code, filled.stderr).toBe(0);
      expect(JSON.parse(filled.stdout)).toMatchObject({ fire_times: 3, created: 3, existing: 0 });
      const backfilled = await until("the three backfilled runs to succeed", async () => {
        const { flow_run } = await gql(api, RUNS, { name: "daily" });
        const past = flow_run.filter((r: any) => r.scheduled_start_time < "2026-02-01");
        return past.length === 3 && past.every((r: any) => r.state === "Success") ? past : undefined;
      });
      expect(backfilled.map((r: any) => [r.scheduled_start_time, r.parameters, r.auto_scheduled])).toEqual([
        ["2026-01-01T06:00:00.000Z", { region: "eu" }, false],
        ["2026-01-02T06:00:00.000Z", { region: "eu" }, false],
        ["2026-01-03T06:00:00.000Z", { region: "eu" }, false],
      ]);
      // Each run knows the time it stands for.
      const { log } = await gql(
        api,
        `{ log(where: { message: { _like: "daily %" } }, order_by: [{ message: asc }]) { message } }`,
      );
      expect(log.map((l: any) => l.message)).toEqual([
        "daily eu for 2026-01-01T06:00:00.000Z",
        "daily eu for 2026-01-02T06:00:00.000Z",
        "daily eu for 2026-01-03T06:00:00.000Z",
      ]);
      const again = await cli(["backfill", ...args, "--api", api]);
      expect(again.stdout).toMatch(/created 0 runs, 3 already had one/);
      const tooMany = await cli([
        "backfill",
        ...args.slice(0, 4),
        "--from",
        "2020-01-01",
        "--to",
        "2026-01-01",
        "--max",
        "100",
        "--api",
        api,
      ]);
      expect(tooMany.code).not.toBe(0);
      expect(tooMany.stderr).toMatch(/more than --max 100; narrow the window or raise --max/);
      const badTime = await cli([
        "backfill",
        ...args.slice(0, 4),
        "--from",
        "yesterday",
        "--to",
        "2026-01-01",
        "--api",
        api,
      ]);
      expect(badTime.code).not.toBe(0);
      expect(badTime.stderr).toMatch(/--from takes an ISO 8601 date or time .*not "yesterday"/);
    }, 120_000);
  });
}
