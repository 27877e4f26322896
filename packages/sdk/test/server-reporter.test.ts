import { RegentClient } from "@regent/client";
import { type Store, startServer } from "@regent/server";
import { BACKENDS, backendTest, freePort } from "@regent/testkit";
import { describe, expect } from "vitest";
import { flow, serverReporter, task } from "../src/index.js";

const double = task({ name: "double" }, async (n: number, ctx) => {
  ctx.log.info(`doubling ${n}`);
  return n * 2;
});
const sum = task({ name: "sum", retries: 1 }, async (values: number[], ctx) => {
  if (ctx.attempt === 1) throw new Error("flaky sum");
  return values.reduce((a, b) => a + b, 0);
});
const wide = flow({ name: "wide" }, async () => {
  const doubled = double.map([1, 2, 3, 4, 5]);
  console.log("all mapped");
  return await sum(doubled);
});

async function seedRun(store: Store) {
  const project = await store.createProject("p");
  const { flow: f } = await store.registerFlow({
    projectId: project.id as string,
    name: "wide",
    contentHash: "h",
  });
  const run = await store.createFlowRun({ flowId: f.id as string });
  return run.id as string;
}

for (const backend of BACKENDS) {
  describe(`serverReporter on ${backend}`, () => {
    const test = backendTest(backend);

    test("every task run, state and log line of a run reaches the server", async ({ database }) => {
      const server = await startServer({ database, port: 0 });
      try {
        const flowRunId = await seedRun(server.store);
        const client = new RegentClient({ apiUrl: server.url });
        const warnings: string[] = [];
        const reporter = serverReporter({
          client,
          flowRunId,
          flowRunVersion: 1,
          onWarning: (w) => warnings.push(w),
        });
        const result = await wide.run({}, { reporter, flowRunId });
        expect(result.state.type).toBe("Success");
        expect(result.result).toBe(30);
        expect(warnings).toEqual([]);

        const db = database.db;
        const run = await db
          .selectFrom("flow_run")
          .selectAll()
          .where("id", "=", flowRunId)
          .executeTakeFirstOrThrow();
        expect(run.state).toBe("Success");
        const states = await db
          .selectFrom("flow_run_state")
          .select(["state", "version"])
          .where("flow_run_id", "=", flowRunId)
          .orderBy("version")
          .execute();
        expect(states.map((s) => s.state)).toEqual(["Scheduled", "Running", "Success"]);
        const taskRuns = await db
          .selectFrom("task_run")
          .selectAll()
          .where("flow_run_id", "=", flowRunId)
          .execute();
        expect(taskRuns).toHaveLength(7); // mapped parent + 5 children + sum
        const summed = taskRuns.find((t) => t.task_name === "sum")!;
        expect(summed).toMatchObject({ state: "Success", attempts: 2 });
        const history = await db
          .selectFrom("task_run_state")
          .select("state")
          .where("task_run_id", "=", summed.id)
          .orderBy("version")
          .execute();
        expect(history.map((h) => h.state)).toEqual(["Pending", "Running", "Retrying", "Running", "Success"]);
        const children = taskRuns.filter((t) => t.task_name === "double" && t.map_index >= 0);
        expect(children.map((c) => c.state)).toEqual(Array(5).fill("Success"));
        const logs = await db
          .selectFrom("log")
          .select("message")
          .where("flow_run_id", "=", flowRunId)
          .orderBy("seq")
          .execute();
        expect(logs.map((l) => l.message).sort()).toEqual(
          ["all mapped", ...[1, 2, 3, 4, 5].map((n) => `doubling ${n}`)].sort(),
        );
      } finally {
        await server.close();
      }
    });

    test("states go with a task run created in the same batch, or on their own after it; refusals are told", async ({
      database,
    }) => {
      const server = await startServer({ database, port: 0 });
      try {
        const flowRunId = await seedRun(server.store);
        const warnings: string[] = [];
        const reporter = serverReporter({
          client: new RegentClient({ apiUrl: server.url }),
          flowRunId,
          flowRunVersion: 1,
          onWarning: (w) => warnings.push(w),
        });
        const taskRun = (id: string) => ({
          id,
          flowRunId,
          taskName: "t",
          taskKey: "t",
          mapIndex: -1,
          upstream: [],
          tags: [],
          runKey: `t#${id}`,
        });
        const state = (taskRunId: string, type: "Pending" | "Running" | "Success") =>
          reporter.record({
            type: "task_run_state",
            flowRunId,
            taskRunId,
            state: { type, timestamp: Date.now() },
          });
        const [a, b, c] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
        for (const id of [a, b, c]) {
          reporter.record({ type: "task_run_created", taskRun: taskRun(id) });
          state(id, "Pending");
        }
        state(a, "Running");
        state(a, "Success");
        state(c, "Success"); // Pending → Success: refused by the server
        await reporter.flush();
        state(b, "Running"); // b was sent already: this write goes on its own
        state(b, "Success");
        await reporter.flush();

        const rows = await database.db
          .selectFrom("task_run_state")
          .select(["task_run_id", "state", "version"])
          .where("flow_run_id", "=", flowRunId)
          .orderBy("task_run_id")
          .orderBy("version")
          .execute();
        const history = (id: string) => rows.filter((r) => r.task_run_id === id).map((r) => r.state);
        expect(history(a)).toEqual(["Pending", "Running", "Success"]);
        expect(history(b)).toEqual(["Pending", "Running", "Success"]);
        expect(history(c)).toEqual(["Pending"]);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain(`run ${c}`);
        expect(warnings[0]).toContain("INVALID_TRANSITION");
      } finally {
        await server.close();
      }
    });

    test("kept results land on the task runs, run keys with them; task runs the server has are taken up, not created", async ({
      database,
    }) => {
      const server = await startServer({ database, port: 0 });
      try {
        const flowRunId = await seedRun(server.store);
        const client = new RegentClient({ apiUrl: server.url });
        const first = serverReporter({ client, flowRunId, flowRunVersion: 1 });
        const r1 = await wide.run({}, { reporter: first, flowRunId, keepResults: true });
        expect(r1.state.type).toBe("Success");
        const rows = await database.db
          .selectFrom("task_run")
          .select(["id", "run_key", "result", "state_version"])
          .where("flow_run_id", "=", flowRunId)
          .orderBy("run_key")
          .execute();
        // SQLite hands JSON back as text, PostgreSQL as a value: both are read as the same JSON here.
        const kept = rows.map((r) => [
          r.run_key,
          typeof r.result === "string" ? JSON.parse(r.result) : r.result,
        ]);
        expect(kept).toEqual([
          ["double#1", null], // the mapped parent stands for its children's results
          ...[0, 1, 2, 3, 4].map((i) => [`double#1[${i}]`, { value: (i + 1) * 2 }]),
          ["sum#1", { value: 30 }],
        ]);

        // The next execution knows them all: it creates none, and writes after their versions.
        const sumRun = rows.find((r) => r.run_key === "sum#1")!;
        const warnings: string[] = [];
        const second = serverReporter({
          client,
          flowRunId,
          flowRunVersion: 3,
          knownTaskRuns: new Map(rows.map((r) => [r.id, r.state_version])),
          onWarning: (w) => warnings.push(w),
        });
        second.record({
          type: "task_run_created",
          taskRun: {
            id: sumRun.id,
            flowRunId,
            taskName: "sum",
            taskKey: "sum",
            mapIndex: -1,
            upstream: [],
            tags: [],
            runKey: "sum#1",
          },
        });
        second.record({
          type: "task_run_state",
          flowRunId,
          taskRunId: sumRun.id,
          state: { type: "Running", timestamp: Date.now() },
        });
        await second.flush();
        // Written at the version the server has: refused only because Success is final (not as stale).
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain("INVALID_TRANSITION");
        const after = await database.db
          .selectFrom("task_run")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .where("flow_run_id", "=", flowRunId)
          .executeTakeFirstOrThrow();
        expect(Number(after.n)).toBe(rows.length);
      } finally {
        await server.close();
      }
    });

    test("a server that is briefly unreachable delays reports but loses none", async ({ database }) => {
      const seeded = await startServer({ database, port: 0 });
      const flowRunId = await seedRun(seeded.store);
      await seeded.close();
      const port = await freePort();
      const client = new RegentClient({ apiUrl: `http://127.0.0.1:${port}` });
      const warnings: string[] = [];
      const reporter = serverReporter({
        client,
        flowRunId,
        flowRunVersion: 1,
        onWarning: (w) => warnings.push(w),
      });
      // The run goes on while nothing listens; the server comes up on that port 400 ms later.
      let server: Awaited<ReturnType<typeof startServer>> | undefined;
      const later = setTimeout(async () => {
        server = await startServer({ database, port });
      }, 400);
      try {
        const result = await wide.run({}, { reporter, flowRunId });
        expect(result.state.type).toBe("Success");
        expect(warnings.some((w) => /SERVER_UNREACHABLE/.test(w))).toBe(true);
        const run = await database.db
          .selectFrom("flow_run")
          .select("state")
          .where("id", "=", flowRunId)
          .executeTakeFirstOrThrow();
        expect(run.state).toBe("Success");
        const logs = await database.db
          .selectFrom("log")
          .select("id")
          .where("flow_run_id", "=", flowRunId)
          .execute();
        expect(logs).toHaveLength(6);
      } finally {
        clearTimeout(later);
        await server?.close();
      }
    });
  });
}
