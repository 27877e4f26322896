import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { openDatabase, type RegentDatabase, type RunningServer, startServer } from "../src/index.js";
import { type Api, seedFlow, startApi } from "./helpers.js";

const codeOf = (r: { errors?: any[] }) => r.errors?.[0]?.extensions?.code;

const HOURLY = {
  clocks: [{ type: "interval", every: "1h", parameters: { name: "clock" }, labels: ["hourly"] }],
};
const UPCOMING = `query($id: uuid!) {
  flow_run(where: { flow_id: { _eq: $id } }, order_by: [{ scheduled_start_time: asc }]) {
    scheduled_start_time parameters labels auto_scheduled state state_message idempotency_key
  }
}`;
const hoursAfter = (start: string, first: number, count: number) =>
  Array.from({ length: count }, (_, i) =>
    new Date(Date.parse(start) + (first + i) * 3_600_000).toISOString(),
  );

for (const backend of BACKENDS) {
  describe(`the scheduler on ${backend}`, () => {
    let api: Api;
    let now: Date;
    beforeEach(async () => {
      now = new Date("2026-03-01T00:30:00.000Z");
      api = await startApi(backend, { clock: () => now, services: { timers: false } });
    });
    afterEach(async () => {
      await api.close();
    });
    const loop = () => api.server.services!.scheduler.loop();
    const runsOf = async (flowId: string) => (await api.ok(UPCOMING, { id: flowId })).flow_run as any[];

    test("keeps the next 10 runs of a schedule, with the clock's parameters and labels, idempotently", async () => {
      const { flowId } = await seedFlow(api, { schedule: HOURLY });
      const first = await loop();
      expect(first).toMatchObject({ leader: true, schedules: 1, created: 10 });
      const runs = await runsOf(flowId);
      expect(runs.map((r) => r.scheduled_start_time)).toEqual(hoursAfter("2026-03-01T00:00:00Z", 1, 10));
      expect(runs[0]).toMatchObject({
        parameters: { name: "clock" },
        labels: ["hourly"],
        auto_scheduled: true,
        state: "Scheduled",
        state_message: "scheduled by clock 1",
        idempotency_key: "schedule:0:2026-03-01T01:00:00.000Z",
      });
      // Nothing is due until the first run's time: a loop plans nothing and makes one query.
      expect(await loop()).toMatchObject({ schedules: 0, created: 0 });
      now = new Date("2026-03-01T01:00:10.000Z");
      expect(await loop()).toMatchObject({ schedules: 1, created: 1 });
      expect((await runsOf(flowId)).map((r) => r.scheduled_start_time)).toEqual(
        hoursAfter("2026-03-01T00:00:00Z", 1, 11),
      );
    });

    test("after its bookkeeping is lost (a restart mid-loop), planning again creates no duplicate", async () => {
      const { flowId } = await seedFlow(api, { schedule: HOURLY });
      await loop();
      // As if the scheduler had never recorded what it created: every run it plans exists already.
      await api.database.db
        .updateTable("flow")
        .set({ schedule_through: null, schedule_due: now.toISOString() })
        .execute();
      expect(await loop()).toMatchObject({ schedules: 1, created: 0 });
      expect(await runsOf(flowId)).toHaveLength(10);
    });

    test("turning a schedule off removes its runs not yet due; on again plans from then on", async () => {
      const { flowId } = await seedFlow(api, { schedule: HOURLY });
      await loop();
      now = new Date("2026-03-01T02:30:00.000Z");
      await api.ok(`mutation($id: uuid!) { set_schedule_inactive(input: { flow_id: $id }) { success } }`, {
        id: flowId,
      });
      // The two runs already due stay (late, or about to be claimed); the eight ahead are gone.
      expect((await runsOf(flowId)).map((r) => r.scheduled_start_time)).toEqual(
        hoursAfter("2026-03-01T00:00:00Z", 1, 2),
      );
      expect(await loop()).toMatchObject({ schedules: 0, created: 0 });
      now = new Date("2026-03-01T07:30:00.000Z");
      await api.ok(`mutation($id: uuid!) { set_schedule_active(input: { flow_id: $id }) { success } }`, {
        id: flowId,
      });
      // Fire times passed while off are not caught up: the next 10 after now.
      expect(await loop()).toMatchObject({ created: 10 });
      expect((await runsOf(flowId)).map((r) => r.scheduled_start_time)).toEqual([
        ...hoursAfter("2026-03-01T00:00:00Z", 1, 2),
        ...hoursAfter("2026-03-01T00:00:00Z", 8, 10),
      ]);
    });

    test("a new version takes over the schedule; the old version's runs ahead are removed", async () => {
      const { flowId, projectId } = await seedFlow(api, { schedule: HOURLY });
      await loop();
      const { register_flow } = await api.ok(
        `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
        { input: { project_id: projectId, name: "hello", content_hash: "h2", schedule: HOURLY } },
      );
      expect(await runsOf(flowId)).toEqual([]);
      expect(await loop()).toMatchObject({ created: 10 });
      expect(await runsOf(register_flow.id)).toHaveLength(10);
      await api.ok(`mutation($id: uuid!) { archive_flow(input: { flow_id: $id }) { success } }`, {
        id: register_flow.id,
      });
      expect(await runsOf(register_flow.id)).toEqual([]);
      expect(await loop()).toMatchObject({ schedules: 0 });
    });

    test.each([
      { catchup: "latest", missed: [6] },
      { catchup: "all", missed: [1, 2, 3, 4, 5, 6] },
      { catchup: "skip", missed: [] },
    ])(
      "after downtime, catchup $catchup creates the missed fire times it keeps",
      async ({ catchup, missed }) => {
        const schedule = { clocks: [{ type: "interval", every: "1h" }], catchup };
        const { flowId } = await seedFlow(api, { schedule });
        await api.server.services!.scheduler.loop();
        // The server was down from 00:30 until 16:30: the 10 runs it had made ahead (01:00–10:00) passed,
        // and so did 11:00–16:00, for which no run was made.
        now = new Date("2026-03-01T16:30:00.000Z");
        await loop();
        const times = (await runsOf(flowId)).map((r) => r.scheduled_start_time);
        expect(times).toEqual([
          ...hoursAfter("2026-03-01T00:00:00Z", 1, 10),
          ...missed.map((h) => hoursAfter("2026-03-01T10:00:00Z", h, 1)[0]),
          ...hoursAfter("2026-03-01T16:00:00Z", 1, 10),
        ]);
      },
    );

    test("register refuses a schedule that does not check, and clock parameters the flow does not accept", async () => {
      const bad = await api.gql(
        `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
        {
          input: {
            project_id: (await api.ok(`mutation { create_project(input: { name: "q" }) { id } }`))
              .create_project.id,
            name: "x",
            content_hash: "x",
            schedule: { clocks: [{ type: "cron", cron: "61 * * * *" }] },
          },
        },
      );
      expect(codeOf(bad)).toBe("INVALID_USAGE");
      expect(bad.errors?.[0]?.message).toMatch(/clock 1 \(cron\)/);
      const params = await api.gql(
        `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
        {
          input: {
            project_id: (await api.ok(`{ project(where: { name: { _eq: "q" } }) { id } }`)).project[0].id,
            name: "y",
            content_hash: "y",
            parameters_schema: {
              type: "object",
              properties: { times: { type: "integer" } },
            },
            schedule: [
              { type: "interval", every: "1h" },
              { type: "interval", every: "2h", parameters: { times: "x" } },
            ],
          },
        },
      );
      expect(codeOf(params)).toBe("INVALID_PARAMETERS");
      expect(params.errors?.[0]?.message).toMatch(/schedule clock 2/);
    });

    test("backfill creates the runs the schedule would have made, pages past 1,000, and never twice", async () => {
      const { flowId, versionGroupId } = await seedFlow(api, {
        schedule: { clocks: [{ type: "cron", cron: "0 6 * * *", parameters: { name: "daily" } }] },
      });
      const backfill = `mutation($input: backfill_flow_runs_input!) {
        backfill_flow_runs(input: $input) { flow_id fire_times created existing next_start }
      }`;
      const window = { start: "2026-02-01T00:00:00Z", end: "2026-02-05T06:00:00Z" };
      const dry = await api.ok(backfill, {
        input: { version_group_id: versionGroupId, ...window, dry_run: true },
      });
      expect(dry.backfill_flow_runs).toMatchObject({
        fire_times: 5,
        created: [],
        existing: 0,
        next_start: null,
      });
      const first = await api.ok(backfill, { input: { version_group_id: versionGroupId, ...window } });
      expect(first.backfill_flow_runs).toMatchObject({ flow_id: flowId, fire_times: 5, existing: 0 });
      expect(first.backfill_flow_runs.created).toHaveLength(5);
      const runs = await runsOf(flowId);
      expect(
        runs.map((r) => [r.scheduled_start_time, r.parameters.name, r.auto_scheduled, r.state_message]),
      ).toEqual(
        [1, 2, 3, 4, 5].map((d) => [`2026-02-0${d}T06:00:00.000Z`, "daily", false, "backfill of clock 1"]),
      );
      const again = await api.ok(backfill, {
        input: { flow_id: flowId, start: "2026-02-04T00:00:00Z", end: "2026-02-06T12:00:00Z" },
      });
      expect(again.backfill_flow_runs).toMatchObject({ fire_times: 3, existing: 2 });
      expect(again.backfill_flow_runs.created).toHaveLength(1);

      const reversed = await api.gql(backfill, {
        input: { flow_id: flowId, start: "2026-02-06T00:00:00Z", end: "2026-02-01T00:00:00Z" },
      });
      expect(reversed.errors?.[0]?.message).toMatch(/start .* is after end/);
    });

    test("backfill of a window with more than 1,000 fire times goes on from next_start", async () => {
      const { flowId } = await seedFlow(api, { schedule: { clocks: [{ type: "interval", every: "1m" }] } });
      const backfill = `mutation($input: backfill_flow_runs_input!) {
        backfill_flow_runs(input: $input) { fire_times created existing next_start }
      }`;
      const end = "2026-02-01T23:59:00Z";
      const first = (
        await api.ok(backfill, { input: { flow_id: flowId, start: "2026-02-01T00:00:00Z", end } })
      ).backfill_flow_runs;
      expect(first).toMatchObject({ fire_times: 1000, next_start: "2026-02-01T16:39:00.001Z" });
      const second = (await api.ok(backfill, { input: { flow_id: flowId, start: first.next_start, end } }))
        .backfill_flow_runs;
      expect(second).toMatchObject({ fire_times: 440, existing: 0, next_start: null });
      const { flow_run_aggregate } = await api.ok(
        `query($id: uuid!) { flow_run_aggregate(where: { flow_id: { _eq: $id } }) { aggregate { count } } }`,
        { id: flowId },
      );
      expect(flow_run_aggregate.aggregate.count).toBe(1440);
    });

    test("backfill of a flow without a schedule says what to do", async () => {
      const { flowId } = await seedFlow(api);
      const r = await api.gql(
        `mutation($id: uuid!) { backfill_flow_runs(input: { flow_id: $id, start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z" }) { fire_times } }`,
        { id: flowId },
      );
      expect(codeOf(r)).toBe("INVALID_USAGE");
      expect(r.errors?.[0]?.message).toMatch(/has no schedule/);
    });
  });

  describe(`late runs on ${backend}`, () => {
    let api: Api;
    let now: Date;
    beforeEach(async () => {
      now = new Date("2026-03-01T00:00:00.000Z");
      api = await startApi(backend, {
        clock: () => now,
        services: { timers: false, lateAfterMs: 30_000, agentTimeoutMs: 60_000 },
      });
    });
    afterEach(async () => {
      await api.close();
    });
    const lateReason = async (id: string) =>
      (await api.ok(`query($id: uuid!) { flow_run_by_pk(id: $id) { late_reason } }`, { id })).flow_run_by_pk
        .late_reason as string | null;

    test("a run unclaimed past the grace period is flagged with why, and again when the agents change", async () => {
      const { flowId } = await seedFlow(api); // labels [prod]
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const lateRuns = api.server.services!.lateRuns;
      now = new Date("2026-03-01T00:00:20.000Z");
      expect(await lateRuns.loop()).toEqual({ flagged: 0 });
      expect(await lateReason(create_flow_run.id)).toBeNull();

      now = new Date("2026-03-01T00:00:31.000Z");
      expect(await lateRuns.loop()).toEqual({ flagged: 1 });
      expect(await lateReason(create_flow_run.id)).toBe(
        "no agent is running: start one that carries the run's labels [prod], e.g. `regent agent local start --label prod`",
      );
      expect(await lateRuns.loop()).toEqual({ flagged: 0 });

      await api.ok(
        `mutation { register_agent(input: { name: "dev-1", type: "local", labels: ["dev"] }) { id } }`,
      );
      expect(await lateRuns.loop()).toEqual({ flagged: 1 });
      expect(await lateReason(create_flow_run.id)).toBe(
        "no live agent can take this run: it has [prod] and an agent must carry every one (dev-1 lacks prod)",
      );
      // The agent stops heartbeating: after the agent timeout it no longer counts as live.
      now = new Date("2026-03-01T00:02:00.000Z");
      expect(await lateRuns.loop()).toEqual({ flagged: 1 });
      expect(await lateReason(create_flow_run.id)).toMatch(/^no agent is running/);

      const { log } = await api.ok(
        `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }, order_by: [{ timestamp: asc }]) { level message } }`,
        { id: create_flow_run.id },
      );
      expect(log.map((l: any) => l.level)).toEqual(["warn", "warn", "warn"]);
      expect(log[1].message).toBe(
        "This run is late: no live agent can take this run: it has [prod] and an agent must carry every one (dev-1 lacks prod)",
      );
    });

    test("a run created after its start time (a backfill) is judged from when it was created", async () => {
      const { flowId } = await seedFlow(api);
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id, scheduled_start_time: "2026-01-01T00:00:00Z" }) { id } }`,
        { id: flowId },
      );
      expect(await api.server.services!.lateRuns.loop()).toEqual({ flagged: 0 });
      now = new Date("2026-03-01T00:00:31.000Z");
      expect(await api.server.services!.lateRuns.loop()).toEqual({ flagged: 1 });
      expect(await lateReason(create_flow_run.id)).toMatch(/^no agent is running/);
    });
  });
}

describe.runIf(BACKENDS.includes("postgres"))("the scheduler with several replicas on one PostgreSQL", () => {
  let api: Api;
  const replicas: RunningServer[] = [];
  const databases: RegentDatabase[] = [];
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close();
    for (const d of databases.splice(0)) await d.close();
    await api.close();
  });

  test("replicas looping at once create each run once", async () => {
    const now = new Date("2026-03-01T00:30:00.000Z");
    api = await startApi("postgres", { clock: () => now, services: { timers: false } });
    for (let i = 0; i < 3; i++) {
      const database = await openDatabase(api.database.url);
      databases.push(database);
      replicas.push(await startServer({ database, port: 0, clock: () => now, services: { timers: false } }));
    }
    const project = (await api.ok(`mutation { create_project(input: { name: "replicas" }) { id } }`))
      .create_project.id;
    const seeded = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const { register_flow } = await api.ok(
          `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
          {
            input: {
              project_id: project,
              name: `f${i}`,
              content_hash: `h${i}`,
              schedule: { clocks: [{ type: "interval", every: "1m" }] },
            },
          },
        );
        return register_flow.id as string;
      }),
    );
    const all = [api.server, ...replicas];
    const loops = await Promise.all(
      Array.from({ length: 3 }, () => all.map((s) => s.services!.scheduler.loop())).flat(),
    );
    expect(loops.reduce((n, l) => n + l.created, 0)).toBe(200);
    // Without the lock as well: the runs are keyed by clock and fire time, and plans apply only to the
    // flow row as it was read.
    await api.database.db
      .updateTable("flow")
      .set({ schedule_through: null, schedule_due: now.toISOString() })
      .execute();
    const { Scheduling } = await import("../src/store/scheduling.js");
    const { planScheduledRuns } = await import("@regent/core");
    const flows = await api.server.store.scheduling.dueSchedules(now, 100);
    const planned = await Promise.all(
      flows.map(async (flow) => ({
        flow,
        plan: await planScheduledRuns({ schedule: flow.schedule as never, through: null, now }),
      })),
    );
    const writers = [api.server, ...replicas].map((s) => new Scheduling(api.database, s.store, () => now));
    const created = await Promise.all(writers.map((w) => w.createPlannedRuns(planned)));
    expect(created.reduce((n, c) => n + c.created, 0)).toBe(0);
    const { flow_run_aggregate } = await api.ok(`{ flow_run_aggregate { aggregate { count } } }`);
    expect(flow_run_aggregate.aggregate.count).toBe(200);
    expect(seeded).toHaveLength(20);
  });
});
