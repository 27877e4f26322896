import { randomUUID } from "node:crypto";
import type { RegentDatabase } from "@regent/server";

export interface SeededRuns {
  readonly flowId: string;
  /** The run that holds the log lines (the newest). */
  readonly loggedRunId: string;
}

/**
 * Writes `runs` finished flow runs of a new flow `name` in project `project` (created if missing), one
 * a minute back from `now`, and `logLines` log lines on the newest, straight into the database in
 * batches: what the UI and its benchmark need to show that pages read a page, not the table. States
 * cycle through Success, Failed, Cancelled and Running so filters have something to find.
 */
export async function seedFlowRuns(
  database: RegentDatabase,
  options: { project: string; name: string; runs: number; logLines: number; now?: number },
): Promise<SeededRuns> {
  const pg = database.dialect === "postgres";
  const json = (v: unknown) => JSON.stringify(v);
  const bool = (b: boolean) => (pg ? b : b ? 1 : 0);
  const iso = (ms: number) => new Date(ms).toISOString();
  const now = options.now ?? Date.now();
  const db = database.db;
  let project = await db
    .selectFrom("project")
    .select("id")
    .where("name", "=", options.project)
    .executeTakeFirst();
  if (!project) {
    project = { id: randomUUID() };
    await db
      .insertInto("project")
      .values({ id: project.id, name: options.project, created: iso(now), updated: iso(now) } as never)
      .execute();
  }
  const flowId = randomUUID();
  await db
    .insertInto("flow")
    .values({
      id: flowId,
      project_id: project.id,
      version_group_id: randomUUID(),
      name: options.name,
      version: 1,
      archived: bool(false),
      labels: json([]),
      schedule_active: bool(false),
      content_hash: "seeded",
      created: iso(now),
      updated: iso(now),
    } as never)
    .execute();
  const states = ["Success", "Failed", "Cancelled", "Running"];
  const ids: string[] = [];
  for (let i = 0; i < options.runs; i += 1_000) {
    const rows = Array.from({ length: Math.min(1_000, options.runs - i) }, (_, k) => {
      const n = i + k;
      const at = now - (options.runs - n) * 60_000;
      const state = states[n % states.length]!;
      const id = randomUUID();
      ids.push(id);
      return {
        id,
        flow_id: flowId,
        name: `${options.name}-${String(n).padStart(6, "0")}`,
        parameters: json({ n }),
        context: json({}),
        labels: json([]),
        scheduled_start_time: iso(at),
        state,
        state_message: state === "Failed" ? `row ${n} failed on purpose` : null,
        state_version: 3,
        state_timestamp: iso(at + 30_000),
        start_time: iso(at),
        end_time: state === "Running" ? null : iso(at + 30_000),
        restart_count: 0,
        created: iso(at),
        updated: iso(at + 30_000),
      };
    });
    await db
      .insertInto("flow_run")
      .values(rows as never)
      .execute();
  }
  const loggedRunId = ids[ids.length - 1]!;
  for (let i = 0; i < options.logLines; i += 1_000) {
    const rows = Array.from({ length: Math.min(1_000, options.logLines - i) }, (_, k) => ({
      id: randomUUID(),
      flow_run_id: loggedRunId,
      task_run_id: null,
      level: (i + k) % 50 === 0 ? "warn" : "info",
      message: `line ${i + k} of a long run, as long as a real log line tends to be`,
      timestamp: iso(now - options.logLines + i + k),
    }));
    await db
      .insertInto("log")
      .values(rows as never)
      .execute();
  }
  return { flowId, loggedRunId };
}
