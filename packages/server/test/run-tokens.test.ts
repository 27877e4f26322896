import { createHash } from "node:crypto";
import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { type Api, seedFlow, startApi } from "./helpers.js";

// Each claimed run gets a token of its own: it reports for that run and starts its child runs, and
// reaches nothing else (other runs, agents, projects to manage, keys).

// As the ECS agent claims: with each run's newest Scheduled state (what a failure before it reported).
const CLAIM = `mutation($agent: uuid!) { claim_flow_runs(input: { agent_id: $agent, limit: 10 }) {
  flow_runs { id version states(where: { state: { _eq: "Scheduled" } }, order_by: [{ version: desc }], limit: 1) { state } }
  tokens { flow_run_id token } } }`;
const SET_STATE = `mutation($id: uuid!, $version: Int!, $type: state_type!) {
  set_flow_run_states(input: { states: [{ flow_run_id: $id, version: $version, state: { type: $type } }] }) {
    states { status version } } }`;
const LOGS = `mutation($id: uuid!, $message: String!) {
  write_run_logs(input: { logs: [{ flow_run_id: $id, message: $message }] }) { count } }`;
const RUN = `query($id: uuid!) { flow_run_by_pk(id: $id) { id state } }`;

for (const backend of BACKENDS) {
  describe(`run tokens on ${backend}`, () => {
    let api: Api;
    let admin: string;
    let runner: string;
    let now = Date.now();
    beforeEach(async () => {
      now = Date.now();
      api = await startApi(backend, { services: false, keysRequired: true, clock: () => new Date(now) });
      admin = (await api.server.store.apiKeys.create({ name: "boot", scope: "admin" })).key;
      runner = (await api.server.store.apiKeys.create({ name: "agent", scope: "runner" })).key;
    });
    afterEach(async () => {
      await api.close();
    });

    const as = async (key: string, query: string, variables: Record<string, unknown> = {}) => {
      const r = await api.gql(query, variables, key);
      if (r.errors?.length) throw new Error(`${r.status} ${JSON.stringify(r.errors)}`);
      return r.data;
    };
    /** Two claimed runs of the seeded flow (the agent holds both), with their tokens. */
    const claimTwo = async () => {
      const { flowId } = await seedFlow({
        ...api,
        ok: (q, v) => as(admin, q, (v ?? {}) as Record<string, unknown>),
      });
      await as(
        admin,
        `mutation($id: uuid!) { a: create_flow_run(input: { flow_id: $id }) { id } b: create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      const { register_agent } = await as(
        runner,
        `mutation { register_agent(input: { name: "a", type: "local", labels: ["prod"] }) { id } }`,
      );
      const { claim_flow_runs } = await as(runner, CLAIM, { agent: register_agent.id });
      expect(claim_flow_runs.flow_runs).toHaveLength(2);
      for (const run of claim_flow_runs.flow_runs) expect(run.states).toEqual([{ state: "Scheduled" }]);
      const [a, b] = (claim_flow_runs.flow_runs as { id: string; version: number }[]).map(
        ({ id, version }) => ({
          id,
          version,
        }),
      );
      const tokenOf = (id: string) =>
        claim_flow_runs.tokens.find((t: { flow_run_id: string }) => t.flow_run_id === id).token as string;
      return {
        flowId,
        agentId: register_agent.id as string,
        a: { ...a!, token: tokenOf(a!.id) },
        b: { ...b!, token: tokenOf(b!.id) },
      };
    };

    test("a claim answers with a token per run, which reports for its run and nothing else", async () => {
      const { a, b, agentId } = await claimTwo();
      expect(a.token).toMatch(/^rgr_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
      expect(a.token).not.toBe(b.token);
      expect(a.token).toBe(await api.server.store.runTokens.mint(a.id));

      // Its own run: states, logs, heartbeat, reads.
      expect((await api.gql(`{ auth_info { scope key_name } }`, {}, a.token)).data.auth_info).toEqual({
        scope: "runner",
        key_name: `run ${a.id}`,
      });
      const running = await as(a.token, SET_STATE, { id: a.id, version: a.version, type: "Running" });
      expect(running.set_flow_run_states.states[0].status).toBe("SUCCESS");
      expect((await as(a.token, LOGS, { id: a.id, message: "mine" })).write_run_logs.count).toBe(1);
      await as(
        a.token,
        `mutation($id: uuid!) { flow_run_heartbeat(input: { flow_run_id: $id }) { state } }`,
        {
          id: a.id,
        },
      );
      expect((await as(a.token, RUN, { id: a.id })).flow_run_by_pk).toEqual({ id: a.id, state: "Running" });

      // Another run: refused (403), and not even seen.
      for (const [query, variables] of [
        [SET_STATE, { id: b.id, version: b.version, type: "Running" }],
        [LOGS, { id: b.id, message: "not mine" }],
        [`mutation($id: uuid!) { flow_run_heartbeat(input: { flow_run_id: $id }) { state } }`, { id: b.id }],
      ] as const) {
        const r = await api.gql(query, variables, a.token);
        expect(r.status, query).toBe(403);
        expect(r.errors?.[0]).toMatchObject({
          extensions: { code: "FORBIDDEN" },
          message: expect.stringMatching(/this run's token may only report for its own run/),
        });
      }
      expect((await as(a.token, RUN, { id: b.id })).flow_run_by_pk).toBeNull();
      expect((await as(a.token, `{ flow_run { id } }`)).flow_run).toEqual([{ id: a.id }]);
      expect((await as(a.token, `{ log { message } }`)).log).toEqual([{ message: "mine" }]);
      expect((await as(a.token, `{ flow { name flow_runs { id } } }`)).flow).toEqual([
        { name: "hello", flow_runs: [{ id: a.id }] },
      ]);

      // What agents, users and admins do is closed to it, though its scope is runner.
      for (const query of [
        `mutation { claim_flow_runs(input: { agent_id: "${agentId}" }) { flow_runs { id } } }`,
        `mutation { register_agent(input: { name: "sneaky", type: "local" }) { id } }`,
        `mutation { create_project(input: { name: "p2" }) { id } }`,
        `mutation { create_api_key(input: { name: "k", scope: admin }) { key } }`,
        `{ agent { id } }`,
        `{ flow_run_aggregate { aggregate { count } } }`,
      ]) {
        const r = await api.gql(query, {}, a.token);
        expect(r.status, query).toBe(403);
        expect(r.errors?.[0].message, query).toMatch(/is not open to a run's token/);
      }

      // Nothing of the other run changed.
      expect((await as(admin, RUN, { id: b.id })).flow_run_by_pk.state).toBe("Submitted");
      expect(
        (
          await as(admin, `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }) { id } }`, {
            id: b.id,
          })
        ).log,
      ).toEqual([]);
    });

    test("it starts child runs of its own run only, and sees and restarts those", async () => {
      const { flowId, a, b } = await claimTwo();
      const create = `mutation($flow: uuid!, $parent: uuid) {
        create_flow_run(input: { flow_id: $flow, parent_flow_run_id: $parent }) { id } }`;
      const child = (await as(a.token, create, { flow: flowId, parent: a.id })).create_flow_run.id;
      expect((await as(a.token, RUN, { id: child })).flow_run_by_pk).toEqual({
        id: child,
        state: "Scheduled",
      });
      const { flow_run_by_pk } = await as(
        a.token,
        `query($id: uuid!) { flow_run_by_pk(id: $id) { states { state } } }`,
        { id: child },
      );
      expect(flow_run_by_pk.states).toEqual([{ state: "Scheduled" }]);

      for (const parent of [null, b.id]) {
        const r = await api.gql(create, { flow: flowId, parent }, a.token);
        expect(r.status).toBe(403);
        expect(r.errors?.[0].message).toMatch(/start child runs of its own run/);
      }
      // b's token cannot act on a's child.
      const restart = `mutation($id: uuid!) { restart_flow_run(input: { flow_run_id: $id }) { id } }`;
      const r = await api.gql(restart, { id: child }, b.token);
      expect(r.errors?.[0].message).toMatch(/act on its own run and the child runs it started/);
      // Only one child was made.
      const { flow_run } = await as(
        admin,
        `{ flow_run(where: { parent_flow_run_id: { _is_null: false } }) { id } }`,
      );
      expect(flow_run).toEqual([{ id: child }]);
    });

    test("it reads its own flow's bundle only", async () => {
      const code = "export default 1;";
      const hash = createHash("sha256").update(code).digest("hex");
      const otherCode = "export default 2;";
      const other = createHash("sha256").update(otherCode).digest("hex");
      await api.server.store.putBundle(hash, code);
      await api.server.store.putBundle(other, otherCode);
      const { a } = await (async () => {
        const { flowId } = await seedFlow(
          { ...api, ok: (q, v) => as(admin, q, (v ?? {}) as Record<string, unknown>) },
          { storage: { type: "database", bundle: { hash } } },
        );
        const { create_flow_run } = await as(
          admin,
          `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
          { id: flowId },
        );
        return { a: { id: create_flow_run.id as string } };
      })();
      const token = await api.server.store.runTokens.mint(a.id);
      const bundle = `query($hash: String!) { flow_bundle(hash: $hash) { code } }`;
      expect((await as(token, bundle, { hash })).flow_bundle.code).toBe(code);
      const r = await api.gql(bundle, { hash: other }, token);
      expect(r.status).toBe(403);
      expect(r.errors?.[0].message).toMatch(/this run's token may only read the bundles of its own run/);
    });

    test("a runner key acts for its own agents and reads the runs they claimed, and nothing else", async () => {
      const { flowId, a, agentId } = await claimTwo();
      // Another agent, registered with another runner key, and a run it claims.
      const other = (await api.server.store.apiKeys.create({ name: "agent-2", scope: "runner" })).key;
      const { register_agent: second } = await as(
        other,
        `mutation { register_agent(input: { name: "b", type: "local", labels: ["prod"] }) { id } }`,
      );
      const { create_flow_run } = await as(
        admin,
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
      );
      await as(other, CLAIM, { agent: second.id });
      const c = create_flow_run.id as string;

      // Reads: its own agents' runs (a and b), not c; its own agent only.
      const runs = (await as(runner, `{ flow_run(order_by: [{ id: asc }]) { id } }`)).flow_run;
      expect(runs.map((r: { id: string }) => r.id)).not.toContain(c);
      expect(runs).toHaveLength(2);
      expect((await as(runner, RUN, { id: c })).flow_run_by_pk).toBeNull();
      expect((await as(runner, `{ agent { id } }`)).agent).toEqual([{ id: agentId }]);
      expect((await as(other, RUN, { id: c })).flow_run_by_pk).toMatchObject({ id: c });

      // Writes and agent operations for the other key's agent and run: refused.
      for (const [query, variables] of [
        [SET_STATE, { id: c, version: 2, type: "Running" }],
        [LOGS, { id: c, message: "not mine" }],
        [CLAIM, { agent: second.id }],
        [`mutation($a: uuid!) { agent_heartbeat(input: { agent_id: $a }) { success } }`, { a: second.id }],
        [
          `mutation($a: uuid!) { register_agent(input: { id: $a, name: "hijack", type: "local" }) { id } }`,
          { a: second.id },
        ],
        [
          `mutation($id: uuid!) { report_infrastructure_failure(input: { flow_run_id: $id, message: "x" }) { verdict } }`,
          { id: c },
        ],
      ] as const) {
        const r = await api.gql(query, variables, runner);
        expect(r.status, query).toBe(403);
        expect(r.errors?.[0].message, query).toMatch(
          /a runner key may only .*(the runs its own agents claimed|agents it registered)/,
        );
      }
      // Its own run: written to as before.
      const logged = await as(runner, LOGS, { id: a.id, message: "from my agent" });
      expect(logged.write_run_logs.count).toBe(1);
      expect((await as(admin, RUN, { id: c })).flow_run_by_pk.state).toBe("Submitted");
      expect(
        (await as(admin, `query($a: uuid!) { agent_by_pk(id: $a) { name } }`, { a: second.id })).agent_by_pk
          .name,
      ).toBe("b");
    });

    test("filters through relations into other runs, logs or agents are refused; through flow and project they work", async () => {
      const { a } = await claimTwo();
      for (const query of [
        `{ flow(where: { flow_runs: { logs: { message: { _like: "%" } } } }) { id } }`,
        `{ flow_run(where: { flow: { flow_runs: { state: { _eq: "Failed" } } } }) { id } }`,
        `{ flow_run(where: { _or: [{ agent: { name: { _like: "a%" } } }] }) { id } }`,
        `{ project { flows(where: { flow_runs: { name: { _like: "x%" } } }) { id } } }`,
        `{ flow_run_aggregate(where: { logs: { level: { _eq: "error" } } }) { aggregate { count } } }`,
      ]) {
        for (const key of [a.token, runner]) {
          const r = await api.gql(query, {}, key);
          expect(r.errors?.[0]?.extensions.code, `${query} ${key.slice(0, 4)}`).toBe("FORBIDDEN");
        }
      }
      const ok = await as(
        a.token,
        `{ flow(where: { name: { _eq: "hello" }, project: { name: { _eq: "p" } } }) { name } }`,
      );
      expect(ok.flow).toEqual([{ name: "hello" }]);
    });

    test("child runs take idempotency keys of their parent's only; a run does not restart itself", async () => {
      const { flowId, a } = await claimTwo();
      const create = `mutation($flow: uuid!, $parent: uuid, $key: String) {
        create_flow_run(input: { flow_id: $flow, parent_flow_run_id: $parent, idempotency_key: $key }) { id } }`;
      // A scheduled run's key (or any other) would take that run's place or answer with it.
      const stolen = await api.gql(
        create,
        { flow: flowId, parent: a.id, key: "schedule:x:2026-01-01T00:00:00Z" },
        a.token,
      );
      expect(stolen.errors?.[0].message).toMatch(/idempotency keys that start with child:<parent id>:/);
      const first = await as(a.token, create, { flow: flowId, parent: a.id, key: `child:${a.id}:1` });
      const again = await as(a.token, create, { flow: flowId, parent: a.id, key: `child:${a.id}:1` });
      expect(again.create_flow_run.id).toBe(first.create_flow_run.id);

      const restart = `mutation($id: uuid!) { restart_flow_run(input: { flow_run_id: $id }) { id } }`;
      const own = await api.gql(restart, { id: a.id }, a.token);
      expect(own.errors?.[0].message).toMatch(/restart the child runs it started, not its own run/);
    });

    test("a run's logs may not name another run's task runs", async () => {
      const { a, b } = await claimTwo();
      const taskRun = "00000000-0000-4000-8000-00000000000b";
      await as(
        b.token,
        `mutation($id: uuid!, $run: uuid!) { create_task_runs(input: { task_runs: [{ id: $id, flow_run_id: $run, task_key: "t", task_name: "t" }] }) { count } }`,
        { id: taskRun, run: b.id },
      );
      const r = await api.gql(
        `mutation($run: uuid!, $task: uuid!) { write_run_logs(input: { logs: [{ flow_run_id: $run, task_run_id: $task, message: "x" }] }) { count } }`,
        { run: a.id, task: taskRun },
        a.token,
      );
      expect(r.errors?.[0].message).toMatch(/report for the task runs of its own run/);
    });

    test("a token stops working 10 minutes after its run ends; a finished run reads no secrets", async () => {
      const { a } = await claimTwo();
      let version = a.version;
      for (const type of ["Running", "Success"]) {
        const set = await as(a.token, SET_STATE, { id: a.id, version, type });
        version = set.set_flow_run_states.states[0].version;
      }
      // Late retries of its last reports still go through for a while.
      expect((await as(a.token, LOGS, { id: a.id, message: "late" })).write_run_logs.count).toBe(1);
      const secret = await api.gql(`{ secret_value(name: "X") }`, {}, a.token);
      expect(secret.errors?.[0].message).toMatch(/has ended: a run reads secrets only while it runs/);
      now += 11 * 60_000;
      const r = await api.gql(LOGS, { id: a.id, message: "much later" }, a.token);
      expect(r.status).toBe(401);
      expect(r.errors?.[0].message).toMatch(/ended Success at .*stops working 10 minutes after its run ends/);
    });

    test("an agent registered without a key is taken on by the first runner key that acts for it", async () => {
      const old = await api.server.store.registerAgent({ name: "before-keys", type: "local", labels: [] });
      const heartbeat = `mutation($a: uuid!) { agent_heartbeat(input: { agent_id: $a }) { success } }`;
      expect((await as(runner, heartbeat, { a: old.id })).agent_heartbeat.success).toBe(true);
      const other = (await api.server.store.apiKeys.create({ name: "agent-3", scope: "runner" })).key;
      const r = await api.gql(heartbeat, { a: old.id }, other);
      expect(r.status).toBe(403);
      expect(r.errors?.[0].message).toMatch(/registered with another key/);
    });

    test("a forged, altered or foreign token is refused with 401", async () => {
      const { a } = await claimTwo();
      const [head, mac] = [a.token.slice(0, 37), a.token.slice(37)];
      const altered = `${head}${mac[0] === "A" ? "B" : "A"}${mac.slice(1)}`;
      const otherRun = `rgr_${"0".repeat(32)}_${mac}`;
      for (const token of [altered, otherRun, "rgr_x", `${a.token}x`]) {
        const r = await api.gql(`{ flow_run { id } }`, {}, token);
        expect(r.status, token).toBe(401);
        expect(r.errors?.[0].extensions.code).toBe("UNAUTHENTICATED");
      }
      // Another server (another database, another signing key) does not take it.
      const elsewhere = await startApi(backend, { services: false, keysRequired: true });
      try {
        const r = await elsewhere.gql(`{ flow_run { id } }`, {}, a.token);
        expect(r.status).toBe(401);
        expect(r.errors?.[0].message).toMatch(/not made by this server/);
      } finally {
        await elsewhere.close();
      }
    });
  });
}
