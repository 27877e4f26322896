import { createHash } from "node:crypto";
import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { type Api, seedFlow, startApi } from "./helpers.js";

const codeOf = (r: { errors?: any[] }) => r.errors?.[0]?.extensions?.code;

for (const backend of BACKENDS) {
  describe(`GraphQL API on ${backend}`, () => {
    let api: Api;
    beforeEach(async () => {
      api = await startApi(backend);
    });
    afterEach(async () => {
      await api.close();
    });

    test("projects: create, refuse a duplicate name, delete, unknown id", async () => {
      const { create_project } = await api.ok(
        `mutation { create_project(input: { name: "etl", description: "d" }) { id project { name description } } }`,
      );
      expect(create_project.project).toEqual({ name: "etl", description: "d" });
      const dup = await api.gql(`mutation { create_project(input: { name: "etl" }) { id } }`);
      expect(codeOf(dup)).toBe("PROJECT_EXISTS");
      const del = await api.ok(
        `mutation($id: uuid!) { delete_project(input: { project_id: $id }) { success } }`,
        { id: create_project.id },
      );
      expect(del.delete_project.success).toBe(true);
      const again = await api.gql(
        `mutation($id: uuid!) { delete_project(input: { project_id: $id }) { success } }`,
        { id: create_project.id },
      );
      expect(codeOf(again)).toBe("PROJECT_NOT_FOUND");
    });

    test("register_flow is idempotent on the content hash; new content is the next version and archives the old", async () => {
      const { projectId, flowId, versionGroupId } = await seedFlow(api);
      const register = `mutation($input: register_flow_input!) { register_flow(input: $input) { id version version_group_id created } }`;
      const same = await api.ok(register, {
        input: { project_id: projectId, name: "hello", content_hash: "h1" },
      });
      expect(same.register_flow).toMatchObject({ id: flowId, version: 1, created: false });
      const next = await api.ok(register, {
        input: { project_id: projectId, name: "hello", content_hash: "h2" },
      });
      expect(next.register_flow).toMatchObject({
        version: 2,
        version_group_id: versionGroupId,
        created: true,
      });
      const { flow } = await api.ok(`{ flow(order_by: [{ version: asc }]) { version archived } }`);
      expect(flow).toEqual([
        { version: 1, archived: true },
        { version: 2, archived: false },
      ]);
      const old = await api.gql(`mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`, {
        id: flowId,
      });
      expect(codeOf(old)).toBe("FLOW_ARCHIVED");
      const byGroup = await api.ok(
        `mutation($g: uuid!) { create_flow_run(input: { version_group_id: $g }) { flow_run { flow { version } } } }`,
        { g: versionGroupId },
      );
      expect(byGroup.create_flow_run.flow_run.flow.version).toBe(2);
    });

    test("create_flow_run applies defaults, validates parameters, honours idempotency keys", async () => {
      const { flowId } = await seedFlow(api);
      const create = `mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id flow_run { parameters labels state version name } } }`;
      const made = await api.ok(create, {
        input: { flow_id: flowId, parameters: { name: "Ada" }, flow_run_name: "first" },
      });
      expect(made.create_flow_run.flow_run).toEqual({
        parameters: { name: "Ada", times: 1 },
        labels: ["prod"],
        state: "Scheduled",
        version: 1,
        name: "first",
      });
      const bad = await api.gql(create, {
        input: { flow_id: flowId, parameters: { name: 3, times: 0, extra: true } },
      });
      expect(codeOf(bad)).toBe("INVALID_PARAMETERS");
      expect(bad.errors?.[0].extensions.details.issues.map((i: { path: string }) => i.path).sort()).toEqual([
        "extra",
        "name",
        "times",
      ]);
      // jsonb takes any JSON; parameters must still be an object (found by the fuzz test).
      for (const parameters of [3, "x", [1]]) {
        const notObject = await api.gql(create, { input: { flow_id: flowId, parameters } });
        expect(codeOf(notObject)).toBe("INVALID_PARAMETERS");
        expect(notObject.errors?.[0].message).toMatch(/parameters are a JSON object of name → value, not a/);
      }
      const unknown = await api.gql(create, { input: { flow_id: "00000000-0000-4000-8000-000000000000" } });
      expect(codeOf(unknown)).toBe("FLOW_NOT_FOUND");
      const k1 = await api.ok(create, { input: { flow_id: flowId, idempotency_key: "k" } });
      const k2 = await api.ok(create, { input: { flow_id: flowId, idempotency_key: "k" } });
      expect(k2.create_flow_run.id).toBe(k1.create_flow_run.id);
      const labelled = await api.ok(create, { input: { flow_id: flowId, labels: ["gpu"] } });
      expect(labelled.create_flow_run.flow_run.labels).toEqual(["gpu"]);
    });

    test("create_flow_run refuses a run config override that does not merge into a valid one, naming the field", async () => {
      const { flowId } = await seedFlow(api);
      const create = `mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { flow_run { run_config } } }`;
      for (const [runConfig, message] of [
        [{ env: 5 }, /^invalid run_config: env: /],
        [{ env: { A: 1 } }, /^invalid run_config: env\.A: /],
        [{ image: "x" }, /^invalid run_config: .*image/],
        [[1], /^run_config must be an object/],
      ] as const) {
        const bad = await api.gql(create, { input: { flow_id: flowId, run_config: runConfig } });
        expect(codeOf(bad), JSON.stringify(runConfig)).toBe("INVALID_CONFIG");
        expect(bad.errors?.[0].message).toMatch(message);
      }
      expect(
        (await api.ok(`{ flow_run_aggregate { aggregate { count } } }`)).flow_run_aggregate.aggregate.count,
      ).toBe(0);
      const good = await api.ok(create, { input: { flow_id: flowId, run_config: { env: { A: "1" } } } });
      expect(good.create_flow_run.flow_run.run_config).toEqual({ env: { A: "1" } });
    });

    test("set_flow_run_states checks transitions and versions, and a replayed write is harmless", async () => {
      const { flowId } = await seedFlow(api);
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const set = `mutation($states: [set_flow_run_state_input!]!) { set_flow_run_states(input: { states: $states }) { states { id status version code message } } }`;
      const id = create_flow_run.id;
      const writeId = "11111111-1111-4111-8111-111111111111";
      const running = await api.ok(set, {
        states: [{ id: writeId, flow_run_id: id, version: 1, state: { type: "Running" } }],
      });
      expect(running.set_flow_run_states.states[0]).toMatchObject({ status: "SUCCESS", version: 2 });
      const replay = await api.ok(set, {
        states: [{ id: writeId, flow_run_id: id, version: 1, state: { type: "Running" } }],
      });
      expect(replay.set_flow_run_states.states[0]).toMatchObject({ status: "SUCCESS", version: 2 });
      const stale = await api.ok(set, {
        states: [{ flow_run_id: id, version: 1, state: { type: "Success" } }],
      });
      expect(stale.set_flow_run_states.states[0]).toMatchObject({
        status: "ERROR",
        code: "STALE_STATE_VERSION",
      });
      const done = await api.ok(set, {
        states: [{ flow_run_id: id, version: 2, state: { type: "Success", message: "ok" } }],
      });
      expect(done.set_flow_run_states.states[0].status).toBe("SUCCESS");
      const invalid = await api.ok(set, {
        states: [{ flow_run_id: id, version: 3, state: { type: "Running" } }],
      });
      expect(invalid.set_flow_run_states.states[0]).toMatchObject({
        status: "ERROR",
        code: "INVALID_TRANSITION",
      });
      expect(invalid.set_flow_run_states.states[0].message).toMatch(/Success.*Running/);
      const { flow_run_by_pk } = await api.ok(
        `query($id: uuid!) { flow_run_by_pk(id: $id) { state state_message start_time end_time states(order_by: [{ version: asc }]) { state version } } }`,
        { id },
      );
      expect(flow_run_by_pk).toMatchObject({ state: "Success", state_message: "ok" });
      expect(flow_run_by_pk.start_time).not.toBeNull();
      expect(flow_run_by_pk.end_time).not.toBeNull();
      expect(flow_run_by_pk.states).toEqual([
        { state: "Scheduled", version: 1 },
        { state: "Running", version: 2 },
        { state: "Success", version: 3 },
      ]);
    });

    test("task runs and logs are written in batches and read back with filters", async () => {
      const { flowId } = await seedFlow(api);
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const flowRunId = create_flow_run.id;
      const ids = Array.from({ length: 3 }, () => crypto.randomUUID());
      const created = await api.ok(
        `mutation($runs: [create_task_run_input!]!) { create_task_runs(input: { task_runs: $runs }) { count } }`,
        {
          runs: ids.map((id, i) => ({
            id,
            flow_run_id: flowRunId,
            task_key: "t",
            task_name: "t",
            map_index: i,
          })),
        },
      );
      expect(created.create_task_runs.count).toBe(3);
      const states = await api.ok(
        `mutation($s: [set_task_run_state_input!]!) { set_task_run_states(input: { states: $s }) { states { status version } } }`,
        {
          s: [
            ...ids.map((id) => ({ task_run_id: id, version: 1, state: { type: "Running" } })),
            ...ids.map((id) => ({ task_run_id: id, version: 2, state: { type: "Success" } })),
          ],
        },
      );
      expect(states.set_task_run_states.states.map((s: { status: string }) => s.status)).toEqual(
        Array(6).fill("SUCCESS"),
      );
      const logs = await api.ok(
        `mutation($logs: [write_run_log_input!]!) { write_run_logs(input: { logs: $logs }) { success count } }`,
        {
          logs: [
            { flow_run_id: flowRunId, task_run_id: ids[0], level: "info", message: "Hello, Ada!" },
            { flow_run_id: flowRunId, level: "error", message: "boom" },
          ],
        },
      );
      expect(logs.write_run_logs.count).toBe(2);
      const read = await api.ok(
        `query($id: uuid!) {
          task_run(where: { flow_run_id: { _eq: $id }, map_index: { _gte: 1 } }, order_by: [{ map_index: desc }]) { map_index state attempts }
          task_run_aggregate(where: { flow_run: { id: { _eq: $id } } }) { aggregate { count } }
          log(where: { flow_run_id: { _eq: $id }, level: { _in: ["error"] } }) { message }
        }`,
        { id: flowRunId },
      );
      expect(read.task_run).toEqual([
        { map_index: 2, state: "Success", attempts: 1 },
        { map_index: 1, state: "Success", attempts: 1 },
      ]);
      expect(read.task_run_aggregate.aggregate.count).toBe(3);
      expect(read.log).toEqual([{ message: "boom" }]);
    });

    test("create_task_runs takes the states a task run entered since Pending, judged like any state write", async () => {
      const { flowId } = await seedFlow(api);
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const [done, refused, plain] = Array.from({ length: 3 }, () => crypto.randomUUID());
      const create = `mutation($runs: [create_task_run_input!]!) {
        create_task_runs(input: { task_runs: $runs }) { count refused { run_id status code version } }
      }`;
      const runs = [
        {
          id: done,
          flow_run_id: create_flow_run.id,
          task_key: "t",
          task_name: "t",
          states: [
            { type: "Running", timestamp: "2026-11-27T10:00:00.000Z" },
            { type: "Success", timestamp: "2026-11-27T10:00:00.250Z", data: { resultRef: "memory://1" } },
          ],
        },
        // Success straight from Pending is not a transition core allows: the run stays as far as it got.
        {
          id: refused,
          flow_run_id: create_flow_run.id,
          task_key: "t",
          task_name: "t",
          states: [{ type: "Success" }],
        },
        { id: plain, flow_run_id: create_flow_run.id, task_key: "t", task_name: "t" },
      ];
      const first = await api.ok(create, { runs });
      expect(first.create_task_runs.count).toBe(3);
      expect(first.create_task_runs.refused).toEqual([
        { run_id: refused, status: "ERROR", code: "INVALID_TRANSITION", version: null },
      ]);
      // A replayed batch (its answer lost) creates nothing and writes no state twice.
      const replay = await api.ok(create, { runs });
      expect(replay.create_task_runs).toEqual({ count: 0, refused: [] });

      const read = await api.ok(
        `query($ids: [uuid!]!) {
          task_run(where: { id: { _in: $ids } }) { id state state_version attempts result_ref start_time end_time
            states(order_by: [{ version: asc }]) { state version timestamp } }
        }`,
        { ids: [done, refused, plain] },
      );
      const byId = new Map(read.task_run.map((r: { id: string }) => [r.id, r]));
      expect(byId.get(done)).toMatchObject({
        state: "Success",
        state_version: 3,
        attempts: 1,
        result_ref: "memory://1",
        start_time: "2026-11-27T10:00:00.000Z",
        end_time: "2026-11-27T10:00:00.250Z",
      });
      expect((byId.get(done) as { states: unknown[] }).states).toEqual([
        { state: "Pending", version: 1, timestamp: expect.any(String) },
        { state: "Running", version: 2, timestamp: "2026-11-27T10:00:00.000Z" },
        { state: "Success", version: 3, timestamp: "2026-11-27T10:00:00.250Z" },
      ]);
      for (const id of [refused, plain]) {
        expect(byId.get(id)).toMatchObject({ state: "Pending", state_version: 1, attempts: 0 });
        expect((byId.get(id) as { states: unknown[] }).states).toHaveLength(1);
      }
      // Later states of a run created that way go on from the version it reached.
      const later = await api.ok(
        `mutation($s: [set_task_run_state_input!]!) { set_task_run_states(input: { states: $s }) { refused { run_id code } states { status version } } }`,
        { s: [{ task_run_id: refused, version: 1, state: { type: "Running" } }] },
      );
      expect(later.set_task_run_states).toEqual({ refused: [], states: [{ status: "SUCCESS", version: 2 }] });
    });

    test("runs made one after another get default names that differ (ids begin with the time)", async () => {
      const { flowId } = await seedFlow(api);
      const names = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const { create_flow_run } = await api.ok(
          `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { flow_run { name } } }`,
          { id: flowId },
        );
        expect(create_flow_run.flow_run.name).toMatch(/^hello-[0-9a-f]{8}$/);
        names.add(create_flow_run.flow_run.name);
      }
      expect(names.size).toBe(5);
    });

    test("reads filter through relations, page, and count", async () => {
      const { flowId } = await seedFlow(api);
      for (let i = 0; i < 5; i++)
        await api.ok(`mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`, {
          id: flowId,
        });
      const r = await api.ok(`{
        flow_run(where: { flow: { project: { name: { _eq: "p" } } } }, limit: 2, offset: 1) { id }
        none: flow_run(where: { flow: { project: { name: { _eq: "nope" } } } }) { id }
        flow_run_aggregate { aggregate { count } }
        project { name flows { name flow_runs(limit: 1) { state } } }
      }`);
      expect(r.flow_run).toHaveLength(2);
      expect(r.none).toEqual([]);
      expect(r.flow_run_aggregate.aggregate.count).toBe(5);
      expect(r.project).toEqual([
        { name: "p", flows: [{ name: "hello", flow_runs: [{ state: "Scheduled" }] }] },
      ]);
    });

    test("cancel_flow_run cancels a run not yet started and refuses a finished one", async () => {
      const { flowId } = await seedFlow(api);
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const c = await api.ok(
        `mutation($id: uuid!) { cancel_flow_run(input: { flow_run_id: $id }) { state } }`,
        { id: create_flow_run.id },
      );
      expect(c.cancel_flow_run.state).toBe("Cancelled");
      const again = await api.gql(
        `mutation($id: uuid!) { cancel_flow_run(input: { flow_run_id: $id }) { state } }`,
        { id: create_flow_run.id },
      );
      expect(codeOf(again)).toBe("INVALID_TRANSITION");
    });

    test("bundles are kept by their sha256; bad hashes and unknown runs are refused", async () => {
      const code = "export default 1;\n";
      const hash = createHash("sha256").update(code).digest("hex");
      const upload = `mutation($hash: String!, $code: String!) { upload_flow_bundle(input: { hash: $hash, code: $code }) { hash created } }`;
      expect((await api.ok(upload, { hash, code })).upload_flow_bundle).toEqual({ hash, created: true });
      expect((await api.ok(upload, { hash, code })).upload_flow_bundle).toEqual({ hash, created: false });
      const damaged = await api.gql(upload, { hash, code: `${code} ` });
      expect(codeOf(damaged)).toBe("INVALID_USAGE");
      expect(damaged.errors?.[0].message).toMatch(/damaged on the way/);
      const read = `query($hash: String!) { flow_bundle(hash: $hash) { code size } }`;
      expect((await api.ok(read, { hash })).flow_bundle).toEqual({ code, size: code.length });
      expect((await api.ok(read, { hash: "0".repeat(64) })).flow_bundle).toBeNull();
      const beat = await api.gql(
        `mutation { flow_run_heartbeat(input: { flow_run_id: "00000000-0000-4000-8000-000000000000" }) { success } }`,
      );
      expect(codeOf(beat)).toBe("FLOW_RUN_NOT_FOUND");
    });

    test("agents claim only runs whose labels they carry, each run once", async () => {
      const { flowId } = await seedFlow(api);
      for (let i = 0; i < 20; i++)
        await api.ok(`mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`, {
          id: flowId,
        });
      const register = `mutation($labels: [String!], $name: String!) { register_agent(input: { name: $name, type: "local", labels: $labels }) { id } }`;
      const other = (await api.ok(register, { name: "gpu", labels: ["gpu"] })).register_agent.id;
      const a = (await api.ok(register, { name: "a", labels: ["prod", "x"] })).register_agent.id;
      const b = (await api.ok(register, { name: "b", labels: ["prod"] })).register_agent.id;
      const claim = `mutation($agent: uuid!) { claim_flow_runs(input: { agent_id: $agent, limit: 3 }) { flow_runs { id state agent_id } } }`;
      expect((await api.ok(claim, { agent: other })).claim_flow_runs.flow_runs).toEqual([]);
      const seen = new Set<string>();
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all([api.ok(claim, { agent: a }), api.ok(claim, { agent: b })]);
        for (const r of results) {
          for (const run of r.claim_flow_runs.flow_runs) {
            expect(run.state).toBe("Submitted");
            expect(seen.has(run.id)).toBe(false);
            seen.add(run.id);
          }
        }
      }
      expect(seen.size).toBe(20);
      const unknown = await api.gql(claim, { agent: "00000000-0000-4000-8000-000000000000" });
      expect(codeOf(unknown)).toBe("AGENT_NOT_FOUND");
    });
  });
}
