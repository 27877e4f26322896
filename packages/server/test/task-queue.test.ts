import { newId } from "@regent/core";
import { BACKENDS } from "@regent/testkit";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { openDatabase, type RegentDatabase, Store } from "../src/index.js";
import { type Api, seedFlow, startApi, subscribe } from "./helpers.js";

// A flow run's task queue (the cluster task runner): the run's process enqueues jobs, its workers claim,
// heartbeat, complete or give them back, and the process takes the results (and acknowledges them).

const ENQUEUE = `mutation($run: uuid!, $jobs: [task_job_input!]!) {
  enqueue_task_jobs(input: { flow_run_id: $run, jobs: $jobs }) { enqueued queued } }`;
const CLAIM = `mutation($run: uuid!, $worker: String!, $limit: Int!, $stale: Int) {
  claim_task_jobs(input: { flow_run_id: $run, worker_id: $worker, limit: $limit, stale_after_ms: $stale }) {
    id task_run_id attempt task_name task_ordinal input deliveries } }`;
const COMPLETE = `mutation($run: uuid!, $worker: String!, $results: [task_job_result_input!]!) {
  complete_task_jobs(input: { flow_run_id: $run, worker_id: $worker, results: $results }) { accepted duplicates } }`;
const HEARTBEAT = `mutation($run: uuid!, $worker: String!, $jobs: [uuid!]) {
  task_worker_heartbeat(input: { flow_run_id: $run, worker_id: $worker, job_ids: $jobs }) { jobs stop } }`;
const RELEASE = `mutation($run: uuid!, $worker: String!, $ids: [uuid!]!) {
  release_task_jobs(input: { flow_run_id: $run, worker_id: $worker, ids: $ids }) }`;
const TAKE = `mutation($run: uuid!, $limit: Int!, $ack: [uuid!]) {
  take_task_results(input: { flow_run_id: $run, limit: $limit, ack: $ack }) { results { id result } queued running } }`;
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
      // Taken results stay until acknowledged: the next take removes them and returns the rest.
      expect(ids(await rows(run))).toEqual(ids(jobs));
      expect((await api.ok(TAKE, { run, limit: 10, ack: ids(taken.results) })).take_task_results).toEqual({
        results: [{ id: jobs[4]!.id, result: '"four"' }],
        queued: 0,
        running: 2,
      });
      expect(ids(await rows(run))).toEqual(ids([jobs[0]!, jobs[1]!, jobs[4]!]));
      expect((await api.ok(TAKE, { run, limit: 10, ack: [jobs[4]!.id] })).take_task_results.results).toEqual(
        [],
      );
      expect(ids(await rows(run))).toEqual(ids([jobs[0]!, jobs[1]!]));
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

    test("take: results stay until acknowledged, so a take whose answer was lost is repeated", async () => {
      const { flowId } = await seedFlow(api);
      const [run, other] = [await newRun(flowId), await newRun(flowId)];
      const jobs = makeJobs(5);
      const [theirs] = makeJobs(1);
      await api.ok(ENQUEUE, { run, jobs });
      await api.ok(ENQUEUE, { run: other, jobs: [theirs] });
      await api.ok(CLAIM, { run, worker: "w", limit: 10 });
      await api.ok(CLAIM, { run: other, worker: "w", limit: 10 });
      const results = jobs.slice(0, 3).map((j, i) => ({ id: j.id, result: String(i) }));
      await api.ok(COMPLETE, { run, worker: "w", results });
      await api.ok(COMPLETE, { run: other, worker: "w", results: [{ id: theirs!.id, result: "9" }] });
      const take = async (limit: number, ack?: string[]) =>
        (await api.ok(TAKE, { run, limit, ack })).take_task_results;

      const first = await take(2);
      expect(first).toEqual({ results: results.slice(0, 2), queued: 0, running: 2 });
      // Its answer was lost: the same take again (no ack) returns the same results.
      expect(await take(2)).toEqual(first);
      expect(await take(2, [])).toEqual(first);
      // Acknowledged: those are gone, the next come. Ids in `ack` that are not the run's done results (a
      // running job, another run's result, an unknown id) are left alone.
      expect(await take(2, [...ids(first.results), jobs[3]!.id, theirs!.id, newId()])).toEqual({
        results: results.slice(2),
        queued: 0,
        running: 2,
      });
      expect((await rows(run)).map((r) => [r.id, r.status])).toEqual([
        [jobs[2]!.id, "done"],
        [jobs[3]!.id, "running"],
        [jobs[4]!.id, "running"],
      ]);
      expect((await rows(other)).map((r) => r.status)).toEqual(["done"]);
      // An acknowledged job's late result is a duplicate and brings nothing back.
      expect(
        (await api.ok(COMPLETE, { run, worker: "x", results: [{ id: jobs[0]!.id, result: '"late"' }] }))
          .complete_task_jobs,
      ).toEqual({ accepted: 0, duplicates: 1 });
      // Acknowledging twice is harmless; results that came meanwhile are returned in id order.
      await api.ok(COMPLETE, {
        run,
        worker: "w",
        results: [jobs[4]!, jobs[3]!].map((j) => ({ id: j.id, result: "7" })),
      });
      expect(ids((await take(10, ids(first.results))).results)).toEqual(ids(jobs.slice(2)));

      // The store's own take: two that race (each on its own connection, both acknowledging the same
      // results) both answer; they may return the same results, and the acknowledged ones go once.
      const connections: RegentDatabase[] = [];
      try {
        for (let i = 0; i < 2; i++) connections.push(await openDatabase(api.database.url));
        const raced = await Promise.all(
          connections.map((database) => new Store(database).taskQueue.take(run, 10, [jobs[2]!.id])),
        );
        for (const r of raced)
          expect(r).toEqual({
            results: jobs.slice(3).map((j) => ({ id: j.id, result: "7" })),
            queued: 0,
            running: 0,
          });
      } finally {
        for (const c of connections) await c.close();
      }
      expect(ids(await rows(run))).toEqual(ids(jobs.slice(3)));
      expect(await new Store(api.database).taskQueue.take(run, 10, ids(jobs.slice(3)))).toEqual({
        results: [],
        queued: 0,
        running: 0,
      });
      expect(await rows(run)).toEqual([]);
    });

    test("heartbeat with job_ids keeps those jobs only: one a lost claim gave the worker is delivered again", async () => {
      const run = await seedRun();
      const [a, b, c, d] = makeJobs(4);
      await api.ok(ENQUEUE, { run, jobs: [a, b, c, d] });
      const claim = async (worker: string, limit = 10) =>
        (await api.ok(CLAIM, { run, worker, limit, stale: 1_000 })).claim_task_jobs as (Job & {
          deliveries: number;
        })[];
      const heartbeat = async (worker: string, jobs?: string[]) =>
        (await api.ok(HEARTBEAT, { run, worker, jobs })).task_worker_heartbeat;
      expect(ids(await claim("w1", 2))).toEqual([a!.id, b!.id]);
      // w1 claims again, but the answer is lost: it holds c without knowing.
      expect(ids(await claim("w1", 1))).toEqual([c!.id]);
      expect(ids(await claim("w2", 1))).toEqual([d!.id]);
      now += 600;
      // w1 names what it runs (and w2's job, and one that is not there): only its own listed ones count.
      expect(await heartbeat("w1", [a!.id, b!.id, d!.id, newId()])).toEqual({ jobs: 2, stop: false });
      const beats = new Map((await rows(run)).map((r) => [r.id, r.heartbeat]));
      expect(beats.get(a!.id)).toEqual(beats.get(b!.id));
      expect(beats.get(c!.id)).not.toEqual(beats.get(a!.id));
      // An empty list keeps nothing (the worker runs nothing), and still says whether to stop.
      expect(await heartbeat("w2", [])).toEqual({ jobs: 0, stop: false });
      now += 600;
      // c's last heartbeat was its claim, 1.2 s ago: handed out again; a and b were renewed 0.6 s ago; d
      // (w2's, named in w1's list but not w1's) was not renewed by it.
      const again = await claim("w3");
      expect(again).toEqual([
        { ...c!, deliveries: 2 },
        { ...d!, deliveries: 2 },
      ]);
      // Without job_ids, all of the worker's running jobs, as before.
      now += 600;
      expect(await heartbeat("w3")).toEqual({ jobs: 2, stop: false });
      expect(await heartbeat("w1")).toEqual({ jobs: 2, stop: false });
      now += 600;
      expect(await claim("w4")).toEqual([]);
      expect((await rows(run)).map((r) => [r.worker_id, r.deliveries])).toEqual([
        ["w1", 1],
        ["w1", 1],
        ["w3", 2],
        ["w3", 2],
      ]);
    });

    test("release: a stopping worker's jobs are queued again, first in line, the hand-out not counted", async () => {
      const run = await seedRun();
      const token = await api.server.store.runTokens.mint(run);
      const events = await subscribe(api.server.graphqlUrl, EVENTS, { run }, token);
      await new Promise((r) => setTimeout(r, 100)); // the stream is open
      const [a, b, c, d, e] = makeJobs(5);
      await api.ok(ENQUEUE, { run, jobs: [a, b, c, d] });
      const claim = async (worker: string, limit = 10) =>
        (await api.ok(CLAIM, { run, worker, limit, stale: 1_000 })).claim_task_jobs as (Job & {
          deliveries: number;
        })[];
      // Each with an id that is no job's, which is left alone.
      const release = async (worker: string, jobs: (Job | undefined)[]) =>
        (await api.ok(RELEASE, { run, worker, ids: [...jobs.map((j) => j!.id), newId()] })).release_task_jobs;
      expect(ids(await claim("w1", 1))).toEqual([a!.id]);
      // a's worker goes silent: it is handed to w2 (its second delivery), with b and c; d to w3.
      now += 1_200;
      expect((await claim("w2", 3)).map((j) => [j.id, j.deliveries])).toEqual([
        [a!.id, 2],
        [b!.id, 1],
        [c!.id, 1],
      ]);
      expect(ids(await claim("w3"))).toEqual([d!.id]);
      await api.ok(COMPLETE, { run, worker: "w2", results: [{ id: c!.id, result: "1" }] });
      await api.ok(ENQUEUE, { run, jobs: [e] });

      // w2 stops: it gives back a, b, c (done already) and d (w3's): a and b go back.
      expect(await release("w2", [a, b, c, d])).toBe(2);
      expect((await rows(run)).map((r) => [r.status, r.worker_id, r.heartbeat, r.deliveries])).toEqual([
        ["queued", null, null, 1],
        ["queued", null, null, 0],
        ["done", "w2", expect.anything(), 1],
        ["running", "w3", expect.anything(), 1],
        ["queued", null, null, 0],
      ]);
      // Again, or by a worker that holds none of them: nothing.
      expect(await release("w2", [a, b])).toBe(0);
      expect(await release("w1", [a, b, d])).toBe(0);
      // Claimable again, first in line, and their count is as if w2 never had them.
      expect((await claim("w4")).map((j) => [j.id, j.deliveries])).toEqual([
        [a!.id, 2],
        [b!.id, 1],
        [e!.id, 1],
      ]);
      expect((await events.next(4)).map((ev) => ev.data?.task_queue_events ?? ev)).toEqual([
        { kind: "enqueued", count: 4 },
        { kind: "done", count: 1 },
        { kind: "enqueued", count: 1 },
        { kind: "enqueued", count: 2 },
      ]);
      expect(await events.next(1, 200)).toEqual([]);
      await events.close();
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
          [HEARTBEAT, { run, worker: "w", jobs: [jobs[0]!.id] }],
          [RELEASE, { run, worker: "w", ids: [jobs[0]!.id] }],
          [TAKE, { run, limit: 10 }],
          [TAKE, { run, limit: 10, ack: [jobs[1]!.id] }],
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
