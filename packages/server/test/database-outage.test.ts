/**
 * The database going away mid-request: requests then fail promptly with DATABASE_UNAVAILABLE while the
 * HTTP server keeps answering, and once the database is back the next requests succeed and everything
 * accepted before the outage is still there. PostgreSQL only, on a private cluster this file starts, stops
 * and restarts (never the shared one from REGENT_TEST_PG_URL).
 *
 * No SQLite case: an embedded file has no server to lose. Unlinking it leaves the open file working (its
 * writes then go nowhere, which is another matter than an outage); a read-only folder or file stops no
 * one running as root, as the tests may; a read-only remount needs privileges a test should not have.
 * Another process holding the write lock past busy_timeout gives SQLITE_BUSY, already mapped to
 * DATABASE_UNAVAILABLE, and is the writer-queue concern of STYLE §15 rather than an outage.
 */

import { BACKENDS, type PrivatePostgres, startPrivatePostgres } from "@regent/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  migrateToLatest,
  openDatabase,
  type RegentDatabase,
  type RunningServer,
  startServer,
} from "../src/index.js";
import { PARAMS_SCHEMA } from "./helpers.js";

/** How long a request may take while the database is down: it must fail fast, not hang. */
const PROMPT_MS = 3_000;

interface GqlResult {
  status: number;
  ms: number;
  data?: any;
  errors?: any[];
}

describe.skipIf(!BACKENDS.includes("postgres"))(
  "PostgreSQL going away mid-request (a private cluster)",
  () => {
    let cluster: PrivatePostgres | undefined;
    let database: RegentDatabase | undefined;
    let server: RunningServer | undefined;
    const internal: unknown[] = [];

    beforeAll(async () => {
      cluster = await startPrivatePostgres();
      database = await openDatabase(cluster.url);
      await migrateToLatest(database);
      server = await startServer({ database, port: 0, onInternalError: (e) => internal.push(e) });
    });

    afterAll(async () => {
      // Each step runs whatever became of the others: the cluster must never outlive the file.
      try {
        await server?.close();
      } finally {
        try {
          await database?.close();
        } finally {
          await cluster?.dispose();
        }
      }
    });

    const gql = async (query: string, variables?: unknown): Promise<GqlResult> => {
      const started = performance.now();
      const res = await fetch(server!.graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await res.json()) as { data?: any; errors?: any[] };
      return { status: res.status, ms: performance.now() - started, ...body };
    };
    const ok = async (query: string, variables?: unknown) => {
      const r = await gql(query, variables);
      if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
      return r.data;
    };
    const get = async (path: string) => {
      const started = performance.now();
      const res = await fetch(`${server!.url}${path}`, { signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      return { status: res.status, text, ms: performance.now() - started };
    };
    const expectUnavailable = (r: GqlResult, what: string) => {
      expect(
        r.errors?.map((e) => e.extensions?.code),
        `${what}: ${JSON.stringify(r.errors)}`,
      ).toEqual(["DATABASE_UNAVAILABLE"]);
      expect(r.errors?.[0].message).toMatch(/database is unavailable/);
      expect(r.ms, `${what} took ${Math.round(r.ms)} ms`).toBeLessThan(PROMPT_MS);
    };

    const createRun = `mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }`;
    const everything = `{
    project { id name }
    flow { id name version }
    flow_run(order_by: [{ name: asc }]) { id name state version states(order_by: [{ version: asc }]) { state version } }
  }`;

    test("requests fail promptly with DATABASE_UNAVAILABLE, the server keeps serving, and recovers with nothing lost", async () => {
      // Accepted before the outage: a project, a flow, five runs, one of them moved to Running.
      const { create_project } = await ok(`mutation { create_project(input: { name: "outage" }) { id } }`);
      const { register_flow } = await ok(
        `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
        {
          input: {
            project_id: create_project.id,
            name: "hello",
            parameters_schema: PARAMS_SCHEMA,
            content_hash: "h1",
          },
        },
      );
      const flowId: string = register_flow.id;
      for (let i = 1; i <= 5; i++)
        await ok(createRun, { input: { flow_id: flowId, flow_run_name: `run-${i}` } });
      const before = await ok(everything);
      const running = before.flow_run[0];
      const set = await ok(
        `mutation($s: [set_flow_run_state_input!]!) { set_flow_run_states(input: { states: $s }) { states { status } } }`,
        { s: [{ flow_run_id: running.id, version: 1, state: { type: "Running" } }] },
      );
      expect(set.set_flow_run_states.states).toEqual([{ status: "SUCCESS" }]);
      const accepted = await ok(everything);
      expect(accepted.flow_run).toHaveLength(5);
      expect(accepted.flow_run[0]).toMatchObject({ state: "Running", version: 2 });

      // Mid-request: a create_flow_run held inside its transaction (its flow_run row written, its
      // flow_run_state insert waiting on a lock another session holds) when the server is killed.
      const locker = new pg.Client({ connectionString: cluster!.url });
      locker.on("error", () => {}); // its connection ends with the server
      await locker.connect();
      let inFlight: Promise<GqlResult> | undefined;
      try {
        await locker.query("BEGIN");
        // SHARE conflicts only with writers: the request's reads go through, its insert waits.
        await locker.query("LOCK TABLE flow_run_state IN SHARE MODE");
        inFlight = gql(createRun, { input: { flow_id: flowId, flow_run_name: "in-flight" } });
        // Waiting for flow_run_state's lock while holding flow_run's: past the flow_run insert, inside the
        // transaction.
        await waitFor(async () => {
          const { rows } = await locker.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks w
             JOIN pg_locks h ON h.pid = w.pid AND h.relation = 'flow_run'::regclass
                            AND h.mode = 'RowExclusiveLock' AND h.granted
            WHERE w.relation = 'flow_run_state'::regclass AND NOT w.granted`,
          );
          return rows[0]!.n > 0;
        }, "the in-flight request to wait on the lock");

        const stopped = performance.now();
        await cluster!.stop("immediate");
        const cut = await inFlight;
        expect(cut.errors?.[0]?.extensions?.code, JSON.stringify(cut.errors)).toBe("DATABASE_UNAVAILABLE");
        expect(performance.now() - stopped).toBeLessThan(PROMPT_MS);
      } finally {
        await inFlight?.catch(() => {});
        await locker.end().catch(() => {});
      }

      // While it is down: reads and writes fail fast with the stable code, health says so, and the HTTP
      // server itself (metrics, 404s) answers as usual. Several at once, as clients would send them.
      const during = await Promise.all([
        gql(everything),
        gql(`query($id: uuid!) { flow_run_by_pk(id: $id) { id } }`, { id: running.id }),
        gql(createRun, { input: { flow_id: flowId, flow_run_name: "during" } }),
        gql(`mutation { create_project(input: { name: "during" }) { id } }`),
      ]);
      for (const [i, r] of during.entries()) expectUnavailable(r, `request ${i} during the outage`);
      expect(during.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const health = await get("/health");
      expect(health.status).toBe(503);
      expect(JSON.parse(health.text)).toMatchObject({ status: "degraded", database: "unavailable" });
      expect(health.ms).toBeLessThan(PROMPT_MS);
      expect((await get("/metrics")).status).toBe(200);
      expect((await get("/nowhere")).status).toBe(404);
      // And again, to show the failed connections left nothing stuck in the pool.
      expectUnavailable(await gql(everything), "a second read during the outage");

      // Back: the same data folder and port. The next requests succeed and nothing accepted was lost;
      // the request cut mid-way left nothing half-written (its transaction never committed).
      await cluster!.start();
      const after = await ok(everything);
      expect(after).toEqual(accepted);
      expect(after.flow_run.map((r: { name: string }) => r.name)).not.toContain("in-flight");
      const healthy = await get("/health");
      expect(healthy.status).toBe(200);
      expect(JSON.parse(healthy.text)).toMatchObject({ status: "ok", database: "ok" });
      await ok(createRun, { input: { flow_id: flowId, flow_run_name: "run-6" } });
      expect(
        (await ok(`{ flow_run_aggregate { aggregate { count } } }`)).flow_run_aggregate.aggregate.count,
      ).toBe(6);

      // A lost database is the caller's DATABASE_UNAVAILABLE, never a masked internal error.
      expect(internal.map((e) => (e as Error)?.stack ?? String(e))).toEqual([]);
    });
  },
);

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
