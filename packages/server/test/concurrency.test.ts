import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { type Api, seedFlow, startApi } from "./helpers.js";

const codeOf = (r: { errors?: any[] }) => r.errors?.[0]?.extensions?.code;

for (const backend of BACKENDS) {
  describe(`concurrency limits on ${backend}`, () => {
    let api: Api;
    beforeEach(async () => {
      api = await startApi(backend, { services: false });
    });
    afterEach(async () => {
      await api.close();
    });
    const store = () => api.server.store;
    const registerAgent = async (name: string, labels: string[]) =>
      (
        await api.ok(
          `mutation($name: String!, $labels: [String!]) { register_agent(input: { name: $name, type: "local", labels: $labels }) { id } }`,
          { name, labels },
        )
      ).register_agent.id as string;
    const active = async () =>
      Number(
        (
          await api.database.db
            .selectFrom("flow_run")
            .select((eb) => eb.fn.countAll<string>().as("n"))
            .where("state", "in", ["Submitted", "Running", "Cancelling"])
            .executeTakeFirstOrThrow()
        ).n,
      );

    test("1,000 runs under a label limit of 10, claimed by three agents at once: never more than 10 active", async () => {
      const { flowId } = await seedFlow(api, { labels: ["db"] });
      await api.ok(
        `mutation { set_concurrency_limit(input: { kind: "label", name: "db", limit: 10 }) { id } }`,
      );
      for (let i = 0; i < 1000; i++) await store().createFlowRun({ flowId });
      const agents = await Promise.all(["a1", "a2", "a3"].map((n) => registerAgent(n, ["db"])));
      const running = new Map<string, number>();
      let done = 0;
      let most = 0;
      for (let round = 0; round < 2_000 && done < 1000; round++) {
        const claimed = (await Promise.all(agents.map((a) => store().claimFlowRuns(a, 4)))).flat();
        for (const run of claimed) running.set(run.id as string, run.state_version as number);
        const now = await active();
        most = Math.max(most, now);
        expect(now).toBeLessThanOrEqual(10);
        // Some runs end each round (in the order they happen to be in), freeing their slots.
        const ending = [...running.entries()].filter((_, i) => i % 3 !== round % 3 || running.size > 8);
        const writes = ending.flatMap(([runId, version]) => [
          { runId, version, state: { type: "Running" as const } },
          { runId, version: version + 1, state: { type: "Success" as const } },
        ]);
        const results = await store().setFlowRunStates(writes);
        expect(results.filter((r) => r.status !== "SUCCESS")).toEqual([]);
        for (const [id] of ending) running.delete(id);
        done += ending.length;
      }
      expect(done).toBe(1000);
      expect(most).toBe(10);
      // Runs that waited said why, in their history.
      const queued = await api.database.db
        .selectFrom("flow_run_state")
        .select("message")
        .where("state", "=", "Queued")
        .limit(1)
        .execute();
      expect(queued[0]?.message).toBe(
        'waiting for a concurrency slot: label "db" allows 10 runs at once (10 active)',
      );
    }, 120_000);

    test("a flow's own limit per key: one run per customer at a time", async () => {
      const { projectId } = await seedFlow(api);
      const { register_flow } = await api.ok(
        `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
        {
          input: {
            project_id: projectId,
            name: "per-customer",
            content_hash: "c1",
            parameters_schema: { type: "object", properties: { customer: { type: "string" } } },
            concurrency: { limit: 1, key: "customer" },
          },
        },
      );
      const flowId = register_flow.id as string;
      const runs = [];
      for (const customer of ["acme", "acme", "initech"])
        runs.push(await store().createFlowRun({ flowId, parameters: { customer } }));
      const agent = await registerAgent("a", []);
      const first = await store().claimFlowRuns(agent, 10);
      expect(first.map((r) => (r.parameters as any).customer).sort()).toEqual(["acme", "initech"]);
      const acme = first.find((r) => (r.parameters as any).customer === "acme")!;
      // Runs made in the same millisecond have no set order: the other acme run is the one waiting.
      const other = runs.find((r) => (r.parameters as any).customer === "acme" && r.id !== acme.id)!;
      expect(await store().flowRunById(other.id as string)).toMatchObject({
        state: "Queued",
        state_message:
          'waiting for a concurrency slot: the flow allows 1 at once per customer (1 active with customer = "acme")',
      });
      expect(await store().claimFlowRuns(agent, 10)).toEqual([]);
      await store().setFlowRunStates([
        { runId: acme.id as string, version: acme.state_version as number, state: { type: "Failed" } },
      ]);
      const next = await store().claimFlowRuns(agent, 10);
      expect(next.map((r) => r.id)).toEqual([other.id]);
    });

    test("register refuses a concurrency key that is not a parameter; limits are set, listed and deleted", async () => {
      const { projectId } = await seedFlow(api);
      const bad = await api.gql(
        `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
        {
          input: {
            project_id: projectId,
            name: "x",
            content_hash: "x",
            parameters_schema: { type: "object", properties: { a: { type: "string" } } },
            concurrency: { limit: 1, key: "b" },
          },
        },
      );
      expect(codeOf(bad)).toBe("INVALID_USAGE");
      expect(bad.errors?.[0]?.message).toBe('flow x: concurrency key "b" is not one of its parameters (a)');
      const kind = await api.gql(
        `mutation { set_concurrency_limit(input: { kind: "flow", name: "x", limit: 1 }) { id } }`,
      );
      expect(kind.errors?.[0]?.message).toMatch(
        /kind is label \(flow runs\) or tag \(task runs\), not "flow"/,
      );
      await api.ok(`mutation { set_concurrency_limit(input: { kind: "tag", name: "db", limit: 1 }) { id } }`);
      await api.ok(`mutation { set_concurrency_limit(input: { kind: "tag", name: "db", limit: 3 }) { id } }`);
      const { concurrency_limit } = await api.ok(`{ concurrency_limit { kind name slots } }`);
      expect(concurrency_limit).toEqual([{ kind: "tag", name: "db", slots: 3 }]);
      await api.ok(`mutation { delete_concurrency_limit(input: { kind: "tag", name: "db" }) { success } }`);
      const gone = await api.gql(
        `mutation { delete_concurrency_limit(input: { kind: "tag", name: "db" }) { success } }`,
      );
      expect(codeOf(gone)).toBe("LIMIT_NOT_FOUND");
    });

    test("task slots under a tag limit: granted, refused with the reason, freed by release or by the run's end", async () => {
      const { flowId } = await seedFlow(api);
      const run = await store().createFlowRun({ flowId });
      await api.ok(`mutation { set_concurrency_limit(input: { kind: "tag", name: "db", limit: 1 }) { id } }`);
      const acquire = (taskRunId: string, tags = ["db", "other"]) =>
        store().concurrency.acquireTaskSlots({ flowRunId: run.id as string, taskRunId, tags });
      const [t1, t2, t3] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
      expect(await acquire(t1)).toEqual({ granted: true, reason: null });
      expect(await acquire(t1)).toEqual({ granted: true, reason: null });
      expect(await acquire(t2)).toEqual({
        granted: false,
        reason: 'waiting for a concurrency slot: tag "db" allows 1 task run at once (1 running)',
      });
      expect(await acquire(t3, ["other"])).toEqual({ granted: true, reason: null });
      await store().concurrency.releaseTaskSlots([t1]);
      expect(await acquire(t2)).toEqual({ granted: true, reason: null });
      // The flow run ends (its executor died and it was failed): its slots count no more.
      await store().setFlowRunStates([
        { runId: run.id as string, version: run.state_version as number, state: { type: "Failed" } },
      ]);
      const other = await store().createFlowRun({ flowId });
      expect(
        await store().concurrency.acquireTaskSlots({
          flowRunId: other.id as string,
          taskRunId: crypto.randomUUID(),
          tags: ["db"],
        }),
      ).toEqual({ granted: true, reason: null });
    });
  });
}
