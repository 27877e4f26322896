import { newId } from "@regent/core";
import { BACKENDS } from "@regent/testkit";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { openDatabase, type RegentDatabase, Store } from "../src/index.js";
import { type Api, seedFlow, startApi, subscribe } from "./helpers.js";

// A flow run's task queue (the cluster task runner): the run's process enqueues jobs, its workers claim,
// heartbeat and complete them, and the process takes the results.

const ENQUEUE = `mutation($run: uuid!, $jobs: [task_job_input!]!) {
  enqueue_task_jobs(input: { flow_run_id: $run, jobs: $jobs }) { enqueued queued } }`;
const CLAIM = `mutation($run: uuid!, $worker: String!, $limit: Int!, $stale: Int) {
  claim_task_jobs(input: { flow_run_id: $run, worker_id: $worker, limit: $limit, stale_after_ms: $stale }) {
    id task_run_id attempt task_name task_ordinal input deliveries } }`;
const COMPLETE = `mutation($run: uuid!, $worker: String!, $results: [task_job_result_input!]!) {
  complete_task_jobs(input: { flow_run_id: $run, worker_id: $worker, results: $results }) { accepted duplicates } }`;
const HEARTBEAT = `mutation($run: uuid!, $worker: String!) {
  task_worker_heartbeat(input: { flow_run_id: $run, worker_id: $worker }) { jobs stop } }`;
const TAKE = `mutation($run: uuid!, $limit: Int!) {
  take_task_results(input: { flow_run_id: $run, limit: $limit }) { results { id result } queued running } }`;
const CLEAR = `mutation($run: uuid!) { clear_task_jobs(input: { flow_run_id: $run }) }`;
const EVENTS = `subscription($run: uuid!) { task_queue_events(flow_run_id: $run) { kind count } }`;

interface Job {
  id: string;
  task_run_id: string;
  attempt: number;
  task_name: string;
  task_ordinal: number;
  input: string;
}

/** `n` jobs in id order (ids made as clients make them, time-ordered), each with its own input. */
const makeJobs = (n: number): Job[] =>
  Array.from({ length: n }, () => newId())
    .sort()
    .map((id, i) => ({
      id,
      task_run_id: newId(),
      attempt: 1,
      task_name: "square",
      task_ordinal: i,
      input: JSON.stringify({ x: i }),
    }));

const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id);

for (const backend of BACKENDS) {
  describe(`task queue on ${backend}`, () => {
    let api: Api;
    let now = Date.now();
    beforeEach(async () => {
      now = Date.now();
      api = await startApi(backend, { services: false, clock: () => new Date(now) });
    });
    afterEach(async () => {
      await api.close();
    });

    /** A new run of the seeded flow (Scheduled). */
    const newRun = async (flowId: string): Promise<string> =>
      (
        await api.ok(`mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`, {
          id: flowId,
        })
      ).create_flow_run.id;
    const seedRun = async () => newRun((await seedFlow(api)).flowId);
    /** The rows of the run's queue, straight from the database. */
    const rows = (run: string) =>
      api.database.db
        .selectFrom("task_queue")
        .selectAll()
        .where("flow_run_id", "=", run)
        .orderBy("id")
        .execute();
    const errorOf = async (query: string, variables: unknown, key?: string) => {
      const r = await api.gql(query, variables, key);
      expect(r.errors, `${query} should fail`).toBeDefined();
      return { status: r.status, ...r.errors![0] };
    };

    test("enqueue is idempotent: the same ids again insert nothing", async () => {
      const run = await seedRun();
      const jobs = makeJobs(3);
      expect((await api.ok(ENQUEUE, { run, jobs })).enqueue_task_jobs).toEqual({ enqueued: 3, queued: 3 });
      const more = makeJobs(1);
      expect((await api.ok(ENQUEUE, { run, jobs: [...jobs, ...more] })).enqueue_task_jobs).toEqual({
        enqueued: 1,
        queued: 4,
      });
      expect((await api.ok(ENQUEUE, { run, jobs })).enqueue_task_jobs).toEqual({ enqueued: 0, queued: 4 });
      // Without the count (which reads every queued job of the run).
      expect(
        (
          await api.ok(
            `mutation($run: uuid!, $jobs: [task_job_input!]!) { enqueue_task_jobs(input: { flow_run_id: $run, jobs: $jobs }) { enqueued } }`,
            { run, jobs: [...more, ...makeJobs(2)] },
          )
        ).enqueue_task_jobs,
      ).toEqual({ enqueued: 2 });
      const stored = (await rows(run)).filter((r) => [...jobs, ...more].some((j) => j.id === r.id));
      expect(ids(stored)).toEqual(ids([...jobs, ...more].sort((a, b) => (a.id < b.id ? -1 : 1))));
      expect(await rows(run)).toHaveLength(6);
      expect(stored.map((r) => [r.status, r.deliveries, r.worker_id, r.result])).toEqual(
        stored.map(() => ["queued", 0, null, null]),
      );
      expect(stored.find((r) => r.id === jobs[2]!.id)).toMatchObject({
        task_run_id: jobs[2]!.task_run_id,
        task_ordinal: 2,
        input: '{"x":2}',
      });
      // A run that does not exist has no queue.
      expect(await errorOf(ENQUEUE, { run: newId(), jobs: makeJobs(1) })).toMatchObject({
        extensions: { code: "FLOW_RUN_NOT_FOUND" },
      });
    });

    test("a claim hands out queued jobs oldest first, once; complete, take and clear", async () => {
      const run = await seedRun();
      const jobs = makeJobs(5);
      await api.ok(ENQUEUE, { run, jobs: [...jobs].reverse() });
      const first = (await api.ok(CLAIM, { run, worker: "w1", limit: 2 })).claim_task_jobs;
      expect(first).toEqual(jobs.slice(0, 2).map((j) => ({ ...j, deliveries: 1 })));
      const second = (await api.ok(CLAIM, { run, worker: "w2", limit: 10 })).claim_task_jobs;
      expect(ids(second)).toEqual(ids(jobs.slice(2)));
      expect((await api.ok(CLAIM, { run, worker: "w3", limit: 10 })).claim_task_jobs).toEqual([]);
      const stored = await rows(run);
      expect(stored.map((r) => [r.status, r.worker_id, r.deliveries])).toEqual([
        ["running", "w1", 1],
        ["running", "w1", 1],
        ["running", "w2", 1],
        ["running", "w2", 1],
        ["running", "w2", 1],
      ]);

      // Results: w2's three, one of them twice in the batch (the first counts), and one for no job.
      const done = await api.ok(COMPLETE, {
        run,
        worker: "w2",
        results: [
          { id: jobs[4]!.id, result: '"four"' },
          { id: jobs[2]!.id, result: '"two"' },
          { id: jobs[3]!.id, result: '"three"' },
          { id: jobs[2]!.id, result: '"two again"' },
          { id: newId(), result: '"nobody\'s"' },
        ],
      });
      expect(done.complete_task_jobs).toEqual({ accepted: 3, duplicates: 2 });
      const taken = (await api.ok(TAKE, { run, limit: 2 })).take_task_results;
      expect(taken).toEqual({
        results: [
          { id: jobs[2]!.id, result: '"two"' },
          { id: jobs[3]!.id, result: '"three"' },
        ],
        queued: 0,
        running: 2,
      });
      // Taken results are gone from the queue; the rest wait for the next take.
      expect(ids(await rows(run))).toEqual(ids([jobs[0]!, jobs[1]!, jobs[4]!]));
      expect((await api.ok(TAKE, { run, limit: 10 })).take_task_results).toEqual({
        results: [{ id: jobs[4]!.id, result: '"four"' }],
        queued: 0,
        running: 2,
      });
      expect((await api.ok(TAKE, { run, limit: 10 })).take_task_results.results).toEqual([]);
      // A result for a job already taken is a duplicate, and brings nothing back.
      expect(
        (await api.ok(COMPLETE, { run, worker: "w3", results: [{ id: jobs[4]!.id, result: '"late"' }] }))
          .complete_task_jobs,
      ).toEqual({ accepted: 0, duplicates: 1 });
      expect((await api.ok(TAKE, { run, limit: 10 })).take_task_results.results).toEqual([]);

      await api.ok(ENQUEUE, { run, jobs: makeJobs(3) });
      expect((await api.ok(CLEAR, { run })).clear_task_jobs).toBe(5);
      expect(await rows(run)).toEqual([]);
      expect((await api.ok(CLEAR, { run })).clear_task_jobs).toBe(0);
    });

    test("a job whose worker went silent is delivered again; the first result wins", async () => {
      const run = await seedRun();
      const [a, b] = makeJobs(2);
      await api.ok(ENQUEUE, { run, jobs: [a, b] });
      const claim = async (worker: string, limit = 10) =>
        (await api.ok(CLAIM, { run, worker, limit, stale: 1_000 })).claim_task_jobs as (Job & {
          deliveries: number;
        })[];
      expect(ids(await claim("w1", 1))).toEqual([a!.id]);
      now += 600;
      expect(ids(await claim("w2", 1))).toEqual([b!.id]);
      now += 600;
      // w1 has been silent for 1.2 s, w2 for 0.6 s: only w1's job is handed out again.
      const again = await claim("w3");
      expect(again).toEqual([{ ...a!, deliveries: 2 }]);
      expect(await claim("w4")).toEqual([]);
      // w2's heartbeat keeps its job: past w2's claim + 1 s, but 0.6 s after the heartbeat.
      now += 300;
      expect((await api.ok(HEARTBEAT, { run, worker: "w2" })).task_worker_heartbeat).toEqual({
        jobs: 1,
        stop: false,
      });
      now += 600;
      expect(await claim("w4")).toEqual([]);
      // w1 was not dead after all: its result comes first and wins over w3's.
      expect((await api.ok(HEARTBEAT, { run, worker: "w1" })).task_worker_heartbeat.jobs).toBe(0);
      const complete = async (worker: string, result: string) =>
        (await api.ok(COMPLETE, { run, worker, results: [{ id: a!.id, result }] })).complete_task_jobs;
      expect(await complete("w1", '"from w1"')).toEqual({ accepted: 1, duplicates: 0 });
      expect(await complete("w3", '"from w3"')).toEqual({ accepted: 0, duplicates: 1 });
      expect((await rows(run)).find((r) => r.id === a!.id)).toMatchObject({
        status: "done",
        result: '"from w1"',
        worker_id: "w1",
        deliveries: 2,
      });
      // A done job is never handed out again, however old its last heartbeat.
      now += 60_000;
      expect(ids(await claim("w5"))).toEqual([b!.id]);
      expect((await api.ok(TAKE, { run, limit: 10 })).take_task_results).toEqual({
        results: [{ id: a!.id, result: '"from w1"' }],
        queued: 0,
        running: 1,
      });
    });

    test("4 concurrent claimers, each on its own connection, share 1,000 jobs without overlap", async () => {
      const run = await seedRun();
      const jobs = makeJobs(1_000);
      // Through the store's own API this time.
      const asInput = (j: Job) => ({
        id: j.id,
        taskRunId: j.task_run_id,
        attempt: j.attempt,
        taskName: j.task_name,
        taskOrdinal: j.task_ordinal,
        input: j.input,
      });
      const store = new Store(api.database);
      expect(await store.taskQueue.enqueue(run, jobs.slice(0, 600).map(asInput))).toEqual({
        enqueued: 600,
        queued: 600,
      });
      expect(await store.taskQueue.enqueue(run, jobs.slice(500).map(asInput))).toEqual({
        enqueued: 400,
        queued: 1_000,
      });
      const connections: RegentDatabase[] = [];
      try {
        for (let i = 0; i < 4; i++) connections.push(await openDatabase(api.database.url));
        const claimed = await Promise.all(
          connections.map(async (database, i) => {
            const store = new Store(database);
            const mine: string[] = [];
            for (;;) {
              const batch = await store.taskQueue.claim(run, `w${i}`, 7, 30_000);
              if (batch.length === 0) return mine;
              expect(batch.every((j) => j.deliveries === 1)).toBe(true);
              mine.push(...ids(batch));
            }
          }),
        );
        const all = claimed.flat();
        expect(all).toHaveLength(1_000);
        expect(new Set(all).size).toBe(1_000);
        expect([...all].sort()).toEqual(ids(jobs));
        // They took turns: more than one claimer got work.
        expect(claimed.filter((c) => c.length > 0).length).toBeGreaterThan(1);
        const stored = await rows(run);
        expect(stored.every((r) => r.status === "running" && r.deliveries === 1)).toBe(true);
        // The store's own take counts what is left: nothing done yet, all held.
        expect(await new Store(connections[0]!).taskQueue.take(run, 10)).toEqual({
          results: [],
          queued: 0,
          running: 1_000,
        });
        for (const [i, mine] of claimed.entries()) {
          const held = new Set(stored.filter((r) => r.worker_id === `w${i}`).map((r) => r.id));
          expect(held).toEqual(new Set(mine));
        }
      } finally {
        for (const c of connections) await c.close();
      }
    });

    if (backend === "postgres") {
      test("a claim passes jobs another transaction holds locked (SKIP LOCKED) instead of waiting", async () => {
        const run = await seedRun();
        const jobs = makeJobs(10);
        await api.ok(ENQUEUE, { run, jobs });
        const other = await openDatabase(api.database.url);
        try {
          await other.db.transaction().execute(async (tx) => {
            await sql`select id from task_queue where id in (${sql.join(ids(jobs.slice(0, 4)))}) for update`.execute(
              tx,
            );
            // Answered while the lock is held (a claim that waited would hang here until the timeout).
            const claimed = await api.ok(CLAIM, { run, worker: "w1", limit: 3 });
            expect(ids(claimed.claim_task_jobs)).toEqual(ids(jobs.slice(4, 7)));
          });
        } finally {
          await other.close();
        }
        // Once released, the first four are next.
        expect(ids((await api.ok(CLAIM, { run, worker: "w2", limit: 5 })).claim_task_jobs)).toEqual(
          ids([...jobs.slice(0, 4), jobs[7]!]),
        );
      });
    }

    test("heartbeat: stop once the run is being cancelled, and when it has ended", async () => {
      const { flowId } = await seedFlow(api);
      const run = await newRun(flowId);
      await api.ok(ENQUEUE, { run, jobs: makeJobs(3) });
      await api.ok(CLAIM, { run, worker: "w1", limit: 2 });
      expect((await api.ok(HEARTBEAT, { run, worker: "w1" })).task_worker_heartbeat).toEqual({
        jobs: 2,
        stop: false,
      });
      expect((await api.ok(HEARTBEAT, { run, worker: "w2" })).task_worker_heartbeat).toEqual({
        jobs: 0,
        stop: false,
      });
      await api.ok(
        `mutation($id: uuid!) { set_flow_run_states(input: { states: [{ flow_run_id: $id, version: 1, state: { type: Running } }] }) { states { status } } }`,
        { id: run },
      );
      expect((await api.ok(HEARTBEAT, { run, worker: "w1" })).task_worker_heartbeat.stop).toBe(false);
      const { cancel_flow_run } = await api.ok(
        `mutation($id: uuid!) { cancel_flow_run(input: { flow_run_id: $id }) { state } }`,
        { id: run },
      );
      expect(cancel_flow_run.state).toBe("Cancelling");
      expect((await api.ok(HEARTBEAT, { run, worker: "w1" })).task_worker_heartbeat).toEqual({
        jobs: 2,
        stop: true,
      });
      await api.ok(
        `mutation($id: uuid!) { set_flow_run_states(input: { states: [{ flow_run_id: $id, version: 3, state: { type: Cancelled } }] }) { states { status } } }`,
        { id: run },
      );
      expect((await api.ok(HEARTBEAT, { run, worker: "w1" })).task_worker_heartbeat.stop).toBe(true);

      // A run that ends without Cancelling: Success.
      const other = await newRun(flowId);
      for (const [version, type] of [
        [1, "Running"],
        [2, "Success"],
      ] as const) {
        expect(
          (await api.ok(HEARTBEAT, { run: other, worker: "w1" })).task_worker_heartbeat.stop,
          `before ${type}`,
        ).toBe(false);
        await api.ok(
          `mutation($id: uuid!, $version: Int!, $type: state_type!) { set_flow_run_states(input: { states: [{ flow_run_id: $id, version: $version, state: { type: $type } }] }) { states { status } } }`,
          { id: other, version, type },
        );
      }
      expect((await api.ok(HEARTBEAT, { run: other, worker: "w1" })).task_worker_heartbeat.stop).toBe(true);
      // A run that is gone: stop too.
      expect((await api.ok(HEARTBEAT, { run: newId(), worker: "w1" })).task_worker_heartbeat).toEqual({
        jobs: 0,
        stop: true,
      });
    });

    test("a run's token reaches its own run's queue only", async () => {
      const { flowId } = await seedFlow(api);
      const [mine, theirs] = [await newRun(flowId), await newRun(flowId)];
      const token = await api.server.store.runTokens.mint(mine);
      const jobs = makeJobs(2);
      await api.ok(ENQUEUE, { run: theirs, jobs });
      const calls = (run: string) =>
        [
          [ENQUEUE, { run, jobs: makeJobs(1) }],
          [CLAIM, { run, worker: "w", limit: 10 }],
          [COMPLETE, { run, worker: "w", results: [{ id: jobs[0]!.id, result: "1" }] }],
          [HEARTBEAT, { run, worker: "w" }],
          [TAKE, { run, limit: 10 }],
          [CLEAR, { run }],
        ] as const;
      for (const [query, variables] of calls(theirs)) {
        const error = await errorOf(query, variables, token);
        expect(error.status, query).toBe(403);
        expect(error, query).toMatchObject({
          extensions: { code: "FORBIDDEN" },
          message: expect.stringMatching(/this run's token may only report for its own run/),
        });
      }
      // Nothing of the other run's queue moved.
      expect((await rows(theirs)).map((r) => r.status)).toEqual(["queued", "queued"]);
      const refused = await subscribe(api.server.graphqlUrl, EVENTS, { run: theirs }, token);
      expect((await refused.next(1))[0]?.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      await refused.close();

      // Its own run's queue: every call goes through.
      for (const [query, variables] of calls(mine)) {
        const r = await api.gql(query, variables, token);
        expect(r.errors, query).toBeUndefined();
      }
      // A user key reaches every run's queue.
      const { key } = await api.server.store.apiKeys.create({ name: "u", scope: "user" });
      const r = await api.gql(CLAIM, { run: theirs, worker: "w", limit: 10 }, key);
      expect(ids(r.data.claim_task_jobs)).toEqual(ids(jobs));
    });

    test("limit and stale_after_ms out of range are refused with INVALID_USAGE", async () => {
      const run = await seedRun();
      await api.ok(ENQUEUE, { run, jobs: makeJobs(2) });
      for (const [query, variables, what] of [
        [CLAIM, { run, worker: "w", limit: 0 }, /limit must be a whole number from 1 to 1000 \(got 0\)/],
        [
          CLAIM,
          { run, worker: "w", limit: 1001 },
          /limit must be a whole number from 1 to 1000 \(got 1001\)/,
        ],
        [
          CLAIM,
          { run, worker: "w", limit: 1, stale: 99 },
          /stale_after_ms must be .* at least 100 \(got 99\)/,
        ],
        [TAKE, { run, limit: 0 }, /limit must be a whole number from 1 to 10000 \(got 0\)/],
      ] as const) {
        expect(await errorOf(query, variables)).toMatchObject({
          message: expect.stringMatching(what),
          extensions: { code: "INVALID_USAGE" },
        });
      }
      // Nothing was claimed by the refused calls; the bounds themselves are fine.
      expect((await rows(run)).map((r) => r.status)).toEqual(["queued", "queued"]);
      expect(
        (await api.ok(CLAIM, { run, worker: "w", limit: 1000, stale: 100 })).claim_task_jobs,
      ).toHaveLength(2);
    });

    test("task_queue_events: enqueued and done, once committed, for the run subscribed to", async () => {
      const { flowId } = await seedFlow(api);
      const [run, other] = [await newRun(flowId), await newRun(flowId)];
      const token = await api.server.store.runTokens.mint(run);
      const events = await subscribe(api.server.graphqlUrl, EVENTS, { run }, token);
      await new Promise((r) => setTimeout(r, 100)); // the stream is open
      const jobs = makeJobs(3);
      await api.ok(ENQUEUE, { run, jobs });
      await api.ok(ENQUEUE, { run, jobs }); // nothing new: no event
      await api.ok(ENQUEUE, { run: other, jobs: makeJobs(5) }); // another run's queue
      await api.ok(CLAIM, { run, worker: "w", limit: 3 });
      await api.ok(COMPLETE, {
        run,
        worker: "w",
        results: jobs.slice(0, 2).map((j) => ({ id: j.id, result: "1" })),
      });
      await api.ok(COMPLETE, { run, worker: "w", results: [{ id: jobs[0]!.id, result: "2" }] }); // duplicate
      await api.ok(COMPLETE, { run, worker: "w", results: [{ id: jobs[2]!.id, result: "3" }] });
      expect((await events.next(3)).map((e) => e.data?.task_queue_events ?? e)).toEqual([
        { kind: "enqueued", count: 3 },
        { kind: "done", count: 2 },
        { kind: "done", count: 1 },
      ]);
      expect(await events.next(1, 200)).toEqual([]);
      await events.close();
    });
  });
}
