import { newId } from "@regent/core";
import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { PausedRuns } from "../src/services/paused-runs.js";
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
    const taskRun = (flowRunId: string, runKey: string, states: Record<string, unknown>[], extra = {}) => ({
      id: newId(),
      flow_run_id: flowRunId,
      task_key: runKey.replace(/#.*/, ""),
      task_name: runKey.replace(/#.*/, ""),
      run_key: runKey,
      states,
      ...extra,
    });
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
