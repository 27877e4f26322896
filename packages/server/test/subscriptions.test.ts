import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { type Api, seedFlow, startApi, subscribe } from "./helpers.js";

for (const backend of BACKENDS) {
  describe(`subscriptions over SSE on ${backend}`, () => {
    let api: Api;
    beforeEach(async () => {
      api = await startApi(backend);
    });
    afterEach(async () => {
      await api.close();
    });

    test("a flow run's state changes and log lines arrive live", async () => {
      const { flowId } = await seedFlow(api);
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const id = create_flow_run.id;
      const states = await subscribe(
        api.server.graphqlUrl,
        `subscription($id: uuid!) { flow_run_states(flow_run_id: $id) { kind state version } }`,
        { id },
      );
      const logs = await subscribe(
        api.server.graphqlUrl,
        `subscription($id: uuid!) { flow_run_logs(flow_run_id: $id) { level message } }`,
        { id },
      );
      await new Promise((r) => setTimeout(r, 100)); // both streams are open
      await api.ok(
        `mutation($id: uuid!) { set_flow_run_states(input: { states: [{ flow_run_id: $id, version: 1, state: { type: Running } }] }) { states { status } } }`,
        { id },
      );
      await api.ok(
        `mutation($id: uuid!) { write_run_logs(input: { logs: [{ flow_run_id: $id, level: "info", message: "Hello, Ada!" }] }) { count } }`,
        { id },
      );
      await api.ok(
        `mutation($id: uuid!) { set_flow_run_states(input: { states: [{ flow_run_id: $id, version: 2, state: { type: Success } }] }) { states { status } } }`,
        { id },
      );
      expect((await states.next(2)).map((e) => e.data.flow_run_states)).toEqual([
        { kind: "flow_run_state", state: "Running", version: 2 },
        { kind: "flow_run_state", state: "Success", version: 3 },
      ]);
      expect((await logs.next(1)).map((e) => e.data.flow_run_logs)).toEqual([
        { level: "info", message: "Hello, Ada!" },
      ]);
      await states.close();
      await logs.close();
    });

    test("agents are woken only for runs whose labels they carry", async () => {
      const { flowId } = await seedFlow(api);
      const prod = await subscribe(
        api.server.graphqlUrl,
        `subscription { claimable_flow_runs(labels: ["prod", "eu"]) { flow_run_id labels } }`,
        {},
      );
      const gpu = await subscribe(
        api.server.graphqlUrl,
        `subscription { claimable_flow_runs(labels: ["gpu"]) { flow_run_id } }`,
        {},
      );
      await new Promise((r) => setTimeout(r, 100));
      const { create_flow_run } = await api.ok(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const [event] = await prod.next(1);
      expect(event.data.claimable_flow_runs).toEqual({ flow_run_id: create_flow_run.id, labels: ["prod"] });
      expect(await gpu.next(1, 300)).toEqual([]);
      await prod.close();
      await gpu.close();
    });
  });
}
