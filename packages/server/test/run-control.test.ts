import { newId } from "@regent/core";
import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Lazarus } from "../src/services/lazarus.js";
import { PausedRuns } from "../src/services/paused-runs.js";
import { lazarusSettings } from "../src/services/services.js";
import { type Api, seedFlow, startApi } from "./helpers.js";

const codeOf = (r: { errors?: any[] }) => r.errors?.[0]?.extensions?.code;

const SET_FLOW_STATE = `mutation($id: uuid!, $version: Int!, $state: state_input!) {
  set_flow_run_states(input: { states: [{ flow_run_id: $id, version: $version, state: $state }] }) { refused { message } }
}`;
const CREATE_TASK_RUNS = `mutation($runs: [create_task_run_input!]!) {
  create_task_runs(input: { task_runs: $runs }) { count refused { message } }
}`;
const RESTART = `mutation($id: uuid!) { restart_flow_run(input: { flow_run_id: $id }) { id state flow_run { restart_count scheduled_start_time } } }`;
const RESUME = `mutation($id: uuid!, $input: jsonb) { resume_flow_run(input: { flow_run_id: $id, input: $input }) { id state flow_run { restart_count } } }`;
const TASK_RUNS = `query($id: uuid!) {
  task_run(where: { flow_run_id: { _eq: $id } }, order_by: [{ run_key: asc }]) {
    run_key state state_version state_message result result_ref
  }
}`;

/** A create_task_runs item: task key and name from the run key (`extract#1` → `extract`). */
const taskRun = (flowRunId: string, runKey: string, states: Record<string, unknown>[], extra = {}) => ({
  id: newId(),
  flow_run_id: flowRunId,
  task_key: runKey.replace(/#.*/, ""),
  task_name: runKey.replace(/#.*/, ""),
  run_key: runKey,
  states,
  ...extra,
});

for (const backend of BACKENDS) {
  describe(`restart and resume on ${backend}`, () => {
    let api: Api;
    beforeEach(async () => {
      api = await startApi(backend, { services: false });
    });
    afterEach(async () => {
      await api.close();
    });

    /** A run of `hello`, taken to Running as an executor would; returns its id and state version. */
    async function runningRun(): Promise<{ id: string; version: number }> {
      const { flowId } = await seedFlowOnce();
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id flow_run { state_version } } }`,
        { id: flowId },
      );
      const id = create_flow_run.id as string;
      await setFlowState(id, 1, { type: "Running" });
      return { id, version: 2 };
    }
    let seeded: Awaited<ReturnType<typeof seedFlow>> | undefined;
    const seedFlowOnce = async () => {
      seeded ??= await seedFlow(api);
      return seeded;
    };
    beforeEach(() => {
      seeded = undefined;
    });
    const setFlowState = async (id: string, version: number, state: Record<string, unknown>) => {
      const r = await api.ok(SET_FLOW_STATE, { id, version, state });
      expect(r.set_flow_run_states.refused).toEqual([]);
    };
    const taskRuns = async (id: string) => (await api.ok(TASK_RUNS, { id })).task_run as any[];

    test("restart reuses what succeeded with a kept result and sends the rest back to Pending", async () => {
      const { id, version } = await runningRun();
      const map = taskRun(id, "square#1", [{ type: "Running" }, { type: "Mapped" }]);
      const runs = [
        taskRun(id, "extract#1", [
          { type: "Running" },
          { type: "Success", data: { result: { value: [1, 2] } } },
        ]),
        taskRun(id, "notify#1", [{ type: "Running" }, { type: "Success", data: { result: {} } }]),
        taskRun(id, "connect#1", [{ type: "Running" }, { type: "Success" }]),
        taskRun(id, "stored#1", [{ type: "Running" }, { type: "Success", data: { resultRef: "s3://b/k" } }]),
        taskRun(id, "load#1", [{ type: "Running" }, { type: "Failed", message: "down" }]),
        taskRun(id, "report#1", [{ type: "TriggerFailed" }]),
        taskRun(id, "maybe#1", [{ type: "Skipped" }]),
        taskRun(id, "orphan#1", [{ type: "Running" }]),
        taskRun(id, "never#1", []),
        map,
        taskRun(
          id,
          "square#1[0]",
          [{ type: "Running" }, { type: "Success", data: { result: { value: 1 } } }],
          {
            map_index: 0,
            parent_task_run_id: map.id,
          },
        ),
        taskRun(id, "square#1[1]", [{ type: "Running" }, { type: "Failed" }], {
          map_index: 1,
          parent_task_run_id: map.id,
        }),
      ];
      const created = await api.ok(CREATE_TASK_RUNS, { runs });
      expect(created.create_task_runs).toEqual({ count: runs.length, refused: [] });
      await setFlowState(id, version, { type: "Failed", message: "1 task run failed" });

      const before = await taskRuns(id);
      const { restart_flow_run: restarted } = await api.ok(RESTART, { id });
      expect(restarted).toMatchObject({ id, state: "Scheduled", flow_run: { restart_count: 1 } });

      const after = await taskRuns(id);
      const view = Object.fromEntries(after.map((t) => [t.run_key, [t.state, t.result]]));
      expect(view).toEqual({
        "connect#1": ["Pending", null], // succeeded, but nothing kept to reuse
        "extract#1": ["Success", { value: [1, 2] }],
        "load#1": ["Pending", null],
        "maybe#1": ["Skipped", null],
        "never#1": ["Pending", null],
        "notify#1": ["Success", {}],
        "orphan#1": ["Pending", null],
        "report#1": ["Pending", null],
        "square#1": ["Mapped", null],
        "square#1[0]": ["Success", { value: 1 }],
        "square#1[1]": ["Pending", null],
        "stored#1": ["Success", null],
      });
      // Each task run sent back moved one version on (its next writer follows it); the rest did not move.
      for (const t of after) {
        const was = before.find((b) => b.run_key === t.run_key);
        const moved = t.state === "Pending" && t.run_key !== "never#1";
        expect([t.run_key, t.state_version]).toEqual([t.run_key, was.state_version + (moved ? 1 : 0)]);
      }
      expect(after.find((t) => t.run_key === "stored#1").result_ref).toBe("s3://b/k");
      // The result lives on the task run once; the history keeps the rest of the state's data.
      const history = await api.ok(
        `query($id: uuid!) { task_run_state(where: { flow_run_id: { _eq: $id }, state: { _eq: "Success" } }) { data } }`,
        { id },
      );
      expect(history.task_run_state.map((s: any) => s.data)).not.toContainEqual(
        expect.objectContaining({ result: expect.anything() }),
      );
      const flowStates = await api.ok(
        `query($id: uuid!) { flow_run_by_pk(id: $id) { state agent_id states(order_by: [{ version: desc }], limit: 1) { state message data } } }`,
        { id },
      );
      expect(flowStates.flow_run_by_pk).toEqual({
        state: "Scheduled",
        agent_id: null,
        states: [{ state: "Scheduled", message: "restarted by a user", data: { restart: 1 } }],
      });

      // Agents take it again.
      const { register_agent } = await api.ok(
        `mutation { register_agent(input: { name: "a", type: "local", labels: ["prod"] }) { id } }`,
      );
      const claimed = await api.ok(
        `mutation($id: uuid!) { claim_flow_runs(input: { agent_id: $id, limit: 5 }) { flow_runs { id restart_count } } }`,
        { id: register_agent.id },
      );
      expect(claimed.claim_flow_runs.flow_runs).toEqual([{ id, restart_count: 1 }]);
    });

    test("restart refuses a run that is not Failed, Cancelled or TimedOut, saying what to do", async () => {
      const { id, version } = await runningRun();
      const running = await api.gql(RESTART, { id });
      expect(codeOf(running)).toBe("INVALID_TRANSITION");
      expect(running.errors?.[0].message).toContain("cancel it first");
      await setFlowState(id, version, { type: "Success" });
      const succeeded = await api.gql(RESTART, { id });
      expect(succeeded.errors?.[0].message).toContain("nothing to restart; start a new run");
      expect(codeOf(await api.gql(RESTART, { id: newId() }))).toBe("FLOW_RUN_NOT_FOUND");
    });

    /** A run stopped at a pause() gate, as an executor leaves it. */
    async function pausedRun(resumeBy: string) {
      const { id, version } = await runningRun();
      const gate = taskRun(id, "pause:approve#1", [{ type: "Paused", message: "load?", data: { resumeBy } }]);
      const done = taskRun(id, "extract#1", [
        { type: "Running" },
        { type: "Success", data: { result: { value: 7 } } },
      ]);
      await api.ok(CREATE_TASK_RUNS, { runs: [done, gate] });
      await setFlowState(id, version, { type: "Paused", message: "load?", data: { resumeBy } });
      return id;
    }

    test("resume approves the pause with the input given and schedules the run again", async () => {
      const id = await pausedRun(new Date(Date.now() + 3_600_000).toISOString());
      const refused = await api.gql(RESTART, { id });
      expect(refused.errors?.[0].message).toContain("resume a Paused one");

      const { resume_flow_run } = await api.ok(RESUME, { id, input: { approvedBy: "ada" } });
      expect(resume_flow_run).toEqual({ id, state: "Scheduled", flow_run: { restart_count: 1 } });
      const view = Object.fromEntries((await taskRuns(id)).map((t) => [t.run_key, [t.state, t.result]]));
      expect(view).toEqual({
        "extract#1": ["Success", { value: 7 }],
        "pause:approve#1": ["Success", { value: { approvedBy: "ada" } }],
      });
      const again = await api.gql(RESUME, { id });
      expect(codeOf(again)).toBe("INVALID_TRANSITION");
      expect(again.errors?.[0].message).toContain("only a Paused run is resumed");
    });

    test("a resume without input gives the pause nothing, kept as such", async () => {
      const id = await pausedRun(new Date(Date.now() + 3_600_000).toISOString());
      await api.ok(RESUME, { id });
      const gate = (await taskRuns(id)).find((t) => t.run_key === "pause:approve#1");
      expect([gate.state, gate.result]).toEqual(["Success", {}]);
    });

    test("a pause past its timeout fails the run and its gate; one within it is left waiting", async () => {
      const late = await pausedRun(new Date(Date.now() - 1_000).toISOString());
      const waiting = await pausedRun(new Date(Date.now() + 3_600_000).toISOString());
      const loop = new PausedRuns(api.server.store.runControl, () => new Date());
      expect(await loop.loop()).toEqual({ expired: 1 });
      expect(await loop.loop()).toEqual({ expired: 0 });
      const state = async (id: string) =>
        (await api.ok(`query($id: uuid!) { flow_run_by_pk(id: $id) { state state_message } }`, { id }))
          .flow_run_by_pk;
      expect(await state(late)).toMatchObject({
        state: "Failed",
        state_message: expect.stringMatching(/^not resumed by .*: the pause timed out$/),
      });
      expect(await state(waiting)).toMatchObject({ state: "Paused" });
      const gate = (await taskRuns(late)).find((t) => t.run_key === "pause:approve#1");
      expect(gate.state).toBe("Failed");
      // Restarted, the timed-out pause waits again.
      await api.ok(RESTART, { id: late });
      expect((await taskRuns(late)).find((t) => t.run_key === "pause:approve#1").state).toBe("Pending");
    });

    test("cancelling a paused run ends its pause too", async () => {
      const id = await pausedRun(new Date(Date.now() + 3_600_000).toISOString());
      const c = await api.ok(
        `mutation($id: uuid!) { cancel_flow_run(input: { flow_run_id: $id }) { state } }`,
        {
          id,
        },
      );
      expect(c.cancel_flow_run.state).toBe("Cancelled");
      const gate = (await taskRuns(id)).find((t) => t.run_key === "pause:approve#1");
      expect([gate.state, gate.state_message]).toEqual(["Cancelled", "cancelled by a user"]);
    });
  });
}

for (const backend of BACKENDS) {
  describe(`Lazarus on ${backend}`, () => {
    let api: Api;
    let now = Date.parse("2026-11-28T10:00:00Z");
    const clock = () => new Date(now);
    beforeEach(async () => {
      now = Date.parse("2026-11-28T10:00:00Z");
      api = await startApi(backend, { services: false, clock });
    });
    afterEach(async () => {
      await api.close();
    });
    const REPORT = `mutation($id: uuid!, $execution: Int, $message: String!) {
      report_infrastructure_failure(input: { flow_run_id: $id, restart_count: $execution, message: $message, data: { exitCode: 137 } }) { verdict state message }
    }`;
    const run = async (id: string) =>
      (
        await api.ok(
          `query($id: uuid!) { flow_run_by_pk(id: $id) { state state_message state_version restart_count lazarus_count agent_id
             states(order_by: [{ version: asc }]) { state message }
             task_runs(order_by: [{ run_key: asc }]) { run_key state state_message } } }`,
          { id },
        )
      ).flow_run_by_pk;
    /** A flow (with `max_restarts` when given), an agent, and a run claimed by it and started. */
    async function started(maxRestarts?: number) {
      const { flowId } = await seedFlow(api, maxRestarts === undefined ? {} : { max_restarts: maxRestarts });
      const { register_agent } = await api.ok(
        `mutation { register_agent(input: { name: "a", type: "local", labels: ["prod"] }) { id } }`,
      );
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const id = create_flow_run.id as string;
      await api.ok(
        `mutation($id: uuid!) { claim_flow_runs(input: { agent_id: $id, limit: 1 }) { flow_runs { id } } }`,
        {
          id: register_agent.id,
        },
      );
      await api.ok(SET_FLOW_STATE, { id, version: 2, state: { type: "Running" } });
      return { id, agentId: register_agent.id as string };
    }
    const addTaskRuns = (id: string) =>
      api.ok(CREATE_TASK_RUNS, {
        runs: [
          taskRun(id, "a#1", [{ type: "Running" }, { type: "Success", data: { result: { value: 1 } } }]),
          taskRun(id, "b#1", [{ type: "Running" }]),
        ],
      });

    test("an infrastructure failure reschedules the run as a new execution, reusing what succeeded", async () => {
      const { id } = await started();
      await addTaskRuns(id);
      const r = await api.ok(REPORT, {
        id,
        execution: 0,
        message: "the flow-run process was killed by signal SIGKILL",
      });
      expect(r.report_infrastructure_failure).toEqual({
        verdict: "rescheduled",
        state: "Scheduled",
        message: "Lazarus: the flow-run process was killed by signal SIGKILL; rescheduled (restart 1 of 3)",
      });
      const after = await run(id);
      expect(after).toMatchObject({ state: "Scheduled", restart_count: 1, lazarus_count: 1, agent_id: null });
      expect(after.task_runs.map((t: any) => [t.run_key, t.state])).toEqual([
        ["a#1", "Success"],
        ["b#1", "Pending"],
      ]);
      // The replaced execution, woken up, creates no task runs any more (the new one does).
      const late = await api.ok(
        `mutation($runs: [create_task_run_input!]!, $e: Int) { create_task_runs(input: { task_runs: $runs, restart_count: $e }) { count refused { code message } } }`,
        {
          runs: [taskRun(id, "c#1", [])],
          e: 0,
        },
      );
      expect(late.create_task_runs.count).toBe(0);
      expect(late.create_task_runs.refused).toEqual([
        {
          code: "EXECUTION_SUPERSEDED",
          message: `flow run ${id} was started again (execution 1) since this execution (0): task run not created`,
        },
      ]);
      // A second report about the execution already replaced changes nothing.
      const stale = await api.ok(REPORT, { id, execution: 0, message: "late news" });
      expect(stale.report_infrastructure_failure.verdict).toBe("superseded");
      expect((await run(id)).state_version).toBe(after.state_version);
    });

    test("past the flow's max_restarts the run fails with every reason in its history, its task runs with it", async () => {
      const { id, agentId } = await started(1);
      await addTaskRuns(id);
      await api.ok(REPORT, { id, execution: 0, message: "OOM-killed" });
      await api.ok(
        `mutation($id: uuid!) { claim_flow_runs(input: { agent_id: $id, limit: 1 }) { flow_runs { id } } }`,
        {
          id: agentId,
        },
      );
      const version = (await run(id)).state_version;
      await api.ok(SET_FLOW_STATE, { id, version, state: { type: "Running" } });
      const r = await api.ok(REPORT, { id, execution: 1, message: "evicted" });
      expect(r.report_infrastructure_failure).toEqual({
        verdict: "failed",
        state: "Failed",
        message: "evicted; Lazarus gave up after 1 restart",
      });
      const after = await run(id);
      expect(after.states.map((s: any) => s.message).filter(Boolean)).toEqual(
        expect.arrayContaining([
          "Lazarus: OOM-killed; rescheduled (restart 1 of 1)",
          "evicted; Lazarus gave up after 1 restart",
        ]),
      );
      expect(after.task_runs.map((t: any) => [t.run_key, t.state])).toEqual([
        ["a#1", "Success"],
        ["b#1", "Failed"],
      ]);
      expect(after.task_runs[1].state_message).toBe("its flow run's executor was lost: evicted");
      // A run that ended is left as it is.
      expect(
        (await api.ok(REPORT, { id, execution: 1, message: "x" })).report_infrastructure_failure.verdict,
      ).toBe("unchanged");
    });

    test("register_flow refuses a max_restarts outside 0–100", async () => {
      const { projectId } = await seedFlow(api);
      const r = await api.gql(
        `mutation($p: uuid!) { register_flow(input: { project_id: $p, name: "m", content_hash: "m", max_restarts: 101 }) { id } }`,
        { p: projectId },
      );
      expect(codeOf(r)).toBe("INVALID_USAGE");
      expect(r.errors?.[0].message).toBe(
        "flow m: maxRestarts must be a whole number from 0 to 100 (got 101)",
      );
    });

    test("max_restarts 0 turns Lazarus off; a run being cancelled ends Cancelled", async () => {
      const off = await started(0);
      const r = await api.ok(REPORT, { id: off.id, execution: 0, message: "gone" });
      expect(r.report_infrastructure_failure.message).toBe(
        "gone (Lazarus is off for this flow: max_restarts 0)",
      );

      const { flowId } = await seedFlowAgain();
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        {
          id: flowId,
        },
      );
      const id = create_flow_run.id;
      await api.ok(SET_FLOW_STATE, { id, version: 1, state: { type: "Running" } });
      await api.ok(`mutation($id: uuid!) { cancel_flow_run(input: { flow_run_id: $id }) { state } }`, { id });
      await api.ok(CREATE_TASK_RUNS, {
        runs: [taskRun(id, "b#1", [{ type: "Running" }])],
      });
      const c = await api.ok(REPORT, { id, execution: 0, message: "killed" });
      expect(c.report_infrastructure_failure).toMatchObject({ verdict: "cancelled", state: "Cancelled" });
      expect((await run(id)).task_runs.map((t: any) => t.state)).toEqual(["Cancelled"]);
    });
    const seedFlowAgain = async () => {
      const { register_flow } = await api.ok(
        `mutation($p: uuid!) { register_flow(input: { project_id: $p, name: "other", content_hash: "o" }) { id } }`,
        { p: (await api.ok(`{ project { id } }`)).project[0].id },
      );
      return { flowId: register_flow.id as string };
    };

    test("heartbeats: the loop reschedules a silent run, not one that beats; an old execution is told it was replaced", async () => {
      const settings = lazarusSettings({
        heartbeatTimeoutMs: 30_000,
        submissionTimeoutMs: 600_000,
        agentTimeoutMs: 60_000,
      });
      const lines: string[] = [];
      const lazarus = new Lazarus({
        database: api.database,
        store: api.server.store,
        clock,
        settings,
        log: (l) => lines.push(l),
      });
      const beat = (id: string, execution: number) =>
        api.ok(
          `mutation($id: uuid!, $e: Int) { flow_run_heartbeat(input: { flow_run_id: $id, restart_count: $e }) { success state superseded interval_ms } }`,
          { id, e: execution },
        );
      const { id } = await started();
      expect((await beat(id, 0)).flow_run_heartbeat).toEqual({
        success: true,
        state: "Running",
        superseded: false,
        interval_ms: 10_000, // six beats per 90 s, at most 10 s apart
      });
      now += 20_000;
      await beat(id, 0);
      now += 20_000; // 20 s since the last beat: alive
      expect(await lazarus.loop()).toEqual({ rescheduled: 0, failed: 0, zombies: 0 });
      now += 11_000; // 31 s: lost
      expect(await lazarus.loop()).toEqual({ rescheduled: 1, failed: 0, zombies: 0 });
      expect((await run(id)).state_message).toMatch(
        /^Lazarus: no heartbeat from its executor since .* \(heartbeat_timeout 30 s\); rescheduled \(restart 1 of 3\)$/,
      );
      expect(lines[0]).toContain(`Lazarus: flow run ${id}`);
      // The old executor comes back: its heartbeat is not taken, and it hears why.
      expect((await beat(id, 0)).flow_run_heartbeat).toMatchObject({
        success: false,
        superseded: true,
        state: "Scheduled",
      });
    });

    test("an agent whose claim went unanswered gives back what it does not hold, as the same execution", async () => {
      const { flowId } = await seedFlow(api);
      const agent = async (name: string) =>
        (
          await api.ok(
            `mutation($n: String!) { register_agent(input: { name: $n, type: "local", labels: ["prod"] }) { id } }`,
            { n: name },
          )
        ).register_agent.id as string;
      const [a, b] = [await agent("a"), await agent("b")];
      const claim = async (agentId: string) => {
        await api.ok(`mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`, {
          id: flowId,
        });
        const { claim_flow_runs } = await api.ok(
          `mutation($id: uuid!) { claim_flow_runs(input: { agent_id: $id, limit: 1 }) { flow_runs { id } } }`,
          { id: agentId },
        );
        return claim_flow_runs.flow_runs[0].id as string;
      };
      const held = await claim(a); // launched by a
      const lost = await claim(a); // the answer never reached a
      const started = await claim(a); // an executor has spoken for it
      await api.ok(
        `mutation($id: uuid!) { flow_run_heartbeat(input: { flow_run_id: $id, restart_count: 0 }) { success } }`,
        { id: started },
      );
      const others = await claim(b);
      const RELEASE = `mutation($id: uuid!, $holding: [uuid!]!) { release_flow_runs(input: { agent_id: $id, holding: $holding }) { flow_runs { id state } } }`;
      const { release_flow_runs } = await api.ok(RELEASE, { id: a, holding: [held] });
      expect(release_flow_runs.flow_runs).toEqual([{ id: lost, state: "Scheduled" }]);
      expect(await run(lost)).toMatchObject({
        state: "Scheduled",
        state_message: "its agent a never got the answer to its claim; back in the queue, not launched",
        restart_count: 0,
        lazarus_count: 0,
        agent_id: null,
      });
      for (const id of [held, started, others]) expect((await run(id)).state).toBe("Submitted");
      // Any agent may take it now; a second release gives nothing back.
      const { claim_flow_runs } = await api.ok(
        `mutation($id: uuid!) { claim_flow_runs(input: { agent_id: $id, limit: 1 }) { flow_runs { id } } }`,
        { id: b },
      );
      expect(claim_flow_runs.flow_runs).toEqual([{ id: lost }]);
      expect((await api.ok(RELEASE, { id: a, holding: [held] })).release_flow_runs.flow_runs).toEqual([]);
      const tooMany = await api.gql(RELEASE, {
        id: a,
        holding: Array.from({ length: 10_001 }, () => newId()),
      });
      expect(tooMany.errors?.[0]?.message).toMatch(/holding names 10001 runs; an agent holds at most 10000/);
    });

    test("a server back after downtime counts silence from its start, not from the last heartbeat it got", async () => {
      const { id } = await started();
      await api.ok(
        `mutation($id: uuid!) { flow_run_heartbeat(input: { flow_run_id: $id, restart_count: 0 }) { success } }`,
        { id },
      );
      now += 10 * 60_000; // the server was down ten minutes; the executor kept trying to beat
      const settings = lazarusSettings({ heartbeatTimeoutMs: 30_000 });
      const lazarus = new Lazarus({
        database: api.database,
        store: api.server.store,
        clock,
        settings,
        log: () => {},
      });
      expect(await lazarus.loop()).toMatchObject({ rescheduled: 0 });
      now += 29_000;
      expect(await lazarus.loop()).toMatchObject({ rescheduled: 0 });
      now += 1_000; // heard nothing for a whole heartbeat timeout since it came back: lost
      expect(await lazarus.loop()).toMatchObject({ rescheduled: 1 });
      expect((await run(id)).state).toBe("Scheduled");
    });

    test("a Submitted run is judged by its agent's liveness and the submission timeout, not the heartbeat", async () => {
      const settings = lazarusSettings({
        heartbeatTimeoutMs: 30_000,
        submissionTimeoutMs: 600_000,
        agentTimeoutMs: 60_000,
      });
      const lazarus = new Lazarus({
        database: api.database,
        store: api.server.store,
        clock,
        settings,
        log: () => {},
      });
      const { flowId } = await seedFlow(api);
      const agent = async (name: string) =>
        (
          await api.ok(
            `mutation($n: String!) { register_agent(input: { name: $n, type: "local", labels: ["prod"] }) { id } }`,
            { n: name },
          )
        ).register_agent.id as string;
      const claimedBy = async (agentId: string) => {
        const { create_flow_run } = await api.ok(
          `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
          { id: flowId },
        );
        await api.ok(
          `mutation($id: uuid!) { claim_flow_runs(input: { agent_id: $id, limit: 1 }) { flow_runs { id } } }`,
          { id: agentId },
        );
        return create_flow_run.id as string;
      };
      const slowAgent = await agent("slow");
      const slow = await claimedBy(slowAgent); // a long image pull: its agent stays alive
      const goneAgent = await agent("gone");
      const orphan = await claimedBy(goneAgent);
      for (let i = 0; i < 5; i++) {
        now += 60_000;
        await api.ok(`mutation($id: uuid!) { agent_heartbeat(input: { agent_id: $id }) { success } }`, {
          id: slowAgent,
        });
        await lazarus.loop();
      }
      expect((await run(slow)).state).toBe("Submitted");
      expect((await run(orphan)).state_message).toMatch(
        /^Lazarus: its agent gone was last seen .* and never started it \(agent_timeout 60 s\); rescheduled/,
      );
      now += 6 * 60_000;
      await api.ok(`mutation($id: uuid!) { agent_heartbeat(input: { agent_id: $id }) { success } }`, {
        id: slowAgent,
      });
      await lazarus.loop();
      expect((await run(slow)).state_message).toMatch(/not started within submission_timeout \(600 s\)/);
    });

    test("the zombie killer ends task runs left started in a flow run that ended, after the heartbeat timeout", async () => {
      const lazarus = new Lazarus({
        database: api.database,
        store: api.server.store,
        clock,
        settings: lazarusSettings({ heartbeatTimeoutMs: 30_000 }),
        log: () => {},
      });
      const { flowId } = await seedFlow(api);
      const { register_agent } = await api.ok(
        `mutation { register_agent(input: { name: "a", type: "local", labels: ["prod"] }) { id } }`,
      );
      const marked = async (type: string) => {
        const { create_flow_run } = await api.ok(
          `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
          { id: flowId },
        );
        const id = create_flow_run.id as string;
        await api.ok(
          `mutation($id: uuid!) { claim_flow_runs(input: { agent_id: $id, limit: 1 }) { flow_runs { id } } }`,
          { id: register_agent.id },
        );
        await api.ok(SET_FLOW_STATE, { id, version: 2, state: { type: "Running" } });
        await api.ok(CREATE_TASK_RUNS, {
          runs: [
            taskRun(id, "done#1", [{ type: "Running" }, { type: "Success" }]),
            taskRun(id, "work#1", [{ type: "Running" }]),
            taskRun(id, "waiting#1", [{ type: "Running" }, { type: "Retrying" }]),
            taskRun(id, "later#1", []),
          ],
        });
        // A user marks the run while no executor is there to stop its task runs.
        const { flow_run_by_pk } = await api.ok(
          `query($id: uuid!) { flow_run_by_pk(id: $id) { state_version } }`,
          {
            id,
          },
        );
        const set = await api.ok(SET_FLOW_STATE, {
          id,
          version: flow_run_by_pk.state_version,
          state: { type, message: "marked by a user" },
        });
        expect(set.set_flow_run_states.refused).toEqual([]);
        return id;
      };
      const failed = await marked("Failed");
      const cancelled = await marked("Cancelled");
      const states = async (id: string) =>
        (await run(id)).task_runs.map((t: any) => [t.run_key, t.state, t.state_message]);
      now += 29_000; // within the heartbeat timeout: an executor may still be ending them
      expect(await lazarus.loop()).toMatchObject({ zombies: 0 });
      now += 2_000;
      expect(await lazarus.loop()).toMatchObject({ zombies: 4 });
      const zombie = (state: string) =>
        expect.stringMatching(
          new RegExp(`^zombie: its flow run ended ${state} at .* and no executor is running it any more$`),
        );
      expect(await states(failed)).toEqual([
        ["done#1", "Success", null],
        ["later#1", "Pending", null],
        ["waiting#1", "Failed", zombie("Failed")],
        ["work#1", "Failed", zombie("Failed")],
      ]);
      expect(await states(cancelled)).toEqual([
        ["done#1", "Success", null],
        ["later#1", "Pending", null],
        ["waiting#1", "Cancelled", zombie("Cancelled")],
        ["work#1", "Cancelled", zombie("Cancelled")],
      ]);
      expect(await lazarus.loop()).toMatchObject({ zombies: 0 });
    });
  });
}
