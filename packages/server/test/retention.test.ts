import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Retention } from "../src/index.js";
import { type Api, seedFlow, startApi } from "./helpers.js";

const DAY = 86_400_000;

for (const backend of BACKENDS) {
  describe(`retention on ${backend}`, () => {
    let api: Api;
    let now: Date;
    beforeEach(async () => {
      now = new Date("2026-06-01T00:00:00.000Z");
      api = await startApi(backend, { clock: () => now, services: false });
    });
    afterEach(async () => {
      await api.close();
    });
    const count = async (table: "log" | "flow_run" | "task_run" | "flow_run_state" | "task_run_state") =>
      Number(
        (
          await api.database.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );

    test("deletes log lines older than the setting in bounded batches, one batch per loop past its budget", async () => {
      const { flowId } = await seedFlow(api);
      const run = await api.server.store.createFlowRun({ flowId });
      const line = (i: number, at: string) => ({
        flowRunId: run.id as string,
        level: "info",
        message: `line ${i}`,
        timestamp: at,
      });
      const old = Array.from({ length: 11_000 }, (_, i) => line(i, "2026-01-01T00:00:00.000Z"));
      const fresh = Array.from({ length: 1_000 }, (_, i) => line(i, "2026-05-30T00:00:00.000Z"));
      await api.server.store.writeLogs(old);
      await api.server.store.writeLogs(fresh);
      const retention = new Retention({
        database: api.database,
        clock: () => now,
        logsMs: 30 * DAY,
        logBatch: 5_000,
        budgetMs: 0,
        pauseMs: 0,
      });
      const deleted = [];
      for (let i = 0; i < 10; i++) {
        const loop = await retention.loop();
        deleted.push(loop!.logsDeleted);
        if (loop!.logsDeleted === 0) break;
      }
      expect(deleted).toEqual([5_000, 5_000, 1_000, 0]);
      expect(await count("log")).toBe(1_000);
    });

    test("deletes finished runs older than the setting with their task runs, histories and logs; keeps the rest", async () => {
      const { flowId } = await seedFlow(api);
      const store = api.server.store;
      const finish = async (at: string, final: boolean) => {
        now = new Date(at);
        const run = await store.createFlowRun({ flowId });
        await store.setFlowRunStates([
          { runId: run.id as string, version: 1, state: { type: "Running", timestamp: at } },
        ]);
        await store.createTaskRuns([
          {
            id: crypto.randomUUID(),
            flowRunId: run.id as string,
            taskKey: "t",
            taskName: "t",
            timestamp: at,
            states: [
              { type: "Running", timestamp: at },
              { type: "Success", timestamp: at },
            ],
          },
        ]);
        await store.writeLogs([{ flowRunId: run.id as string, level: "info", message: "hi", timestamp: at }]);
        if (final)
          await store.setFlowRunStates([
            { runId: run.id as string, version: 2, state: { type: "Success", timestamp: at } },
          ]);
        return run.id as string;
      };
      const oldDone = await finish("2026-01-01T00:00:00.000Z", true);
      const oldRunning = await finish("2026-01-01T00:00:00.000Z", false);
      const recentDone = await finish("2026-05-30T00:00:00.000Z", true);
      now = new Date("2026-06-01T00:00:00.000Z");
      const loop = await new Retention({ database: api.database, clock: () => now, runsMs: 90 * DAY }).loop();
      expect(loop).toMatchObject({ runsDeleted: 1, logsDeleted: 0 });
      const left = await api.database.db.selectFrom("flow_run").select("id").execute();
      expect(left.map((r) => r.id).sort()).toEqual([oldRunning, recentDone].sort());
      expect(left.map((r) => r.id)).not.toContain(oldDone);
      expect(await count("task_run")).toBe(2);
      expect(await count("log")).toBe(2);
      const states = await api.database.db
        .selectFrom("task_run_state")
        .select("flow_run_id")
        .where("flow_run_id", "=", oldDone)
        .execute();
      expect(states).toEqual([]);
    });

    test("without settings, retention deletes nothing", async () => {
      const retention = new Retention({ database: api.database, clock: () => now });
      expect(retention.enabled).toBe(false);
      expect(await retention.loop()).toEqual({ logsDeleted: 0, runsDeleted: 0, ms: 0 });
    });
  });
}
