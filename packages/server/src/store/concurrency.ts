import {
  FINAL_STATES,
  type FlowConcurrency,
  gateTaskRun,
  InvalidUsageError,
  LIMIT_KINDS,
  type LimitKind,
  NotFoundError,
  newId,
  type RunAtGate,
  type RunHoldingSlot,
  SLOT_HOLDING_STATES,
} from "@regent/core";
import { sql, type Transaction } from "kysely";
import { decodeRow, encodeRow } from "../db/codec.js";
import type { Database, RegentDatabase } from "../db/database.js";
import type { Row } from "../db/tables.js";
import type { Clock } from "./store.js";

type Tx = Transaction<Database>;

/** A task slot of a flow run in a final state is free (its executor is gone). */
const ENDED = [...FINAL_STATES];

/**
 * Serialises, on PostgreSQL, the transactions that judge a limit (claims, slot acquisitions) so two of
 * them never both see the last free slot; SQLite serialises writers already.
 */
export async function lockLimits(tx: Tx, dialect: RegentDatabase["dialect"], what: string): Promise<void> {
  if (dialect === "postgres")
    await sql`select pg_advisory_xact_lock(hashtext(${`regent:${what}`}))`.execute(tx);
}

/** The limits of one kind, by name. */
export async function limitsOf(tx: Tx | RegentDatabase["db"], kind: LimitKind): Promise<Map<string, number>> {
  const rows = await tx
    .selectFrom("concurrency_limit")
    .select(["name", "slots"])
    .where("kind", "=", kind)
    .execute();
  return new Map(rows.map((r) => [r.name, r.slots]));
}

/** What the limits judge a run by: columns of flow_run joined with its flow (`innerJoin("flow", …)`). */
export const GATE_COLUMNS = [
  "flow_run.id",
  "flow_run.labels",
  "flow_run.parameters",
  "flow.version_group_id",
  "flow.name as flow_name",
  "flow.concurrency",
] as const;

interface GateRow {
  readonly id: string;
  readonly labels: unknown;
  readonly parameters: unknown;
  readonly version_group_id: string;
  readonly flow_name: string;
  readonly concurrency: unknown;
}

/** A row of GATE_COLUMNS as the gate sees the run. */
export function runAtGate(row: GateRow): RunAtGate {
  const run = decodeRow("flow_run", { labels: row.labels, parameters: row.parameters });
  const flow = decodeRow("flow", { concurrency: row.concurrency });
  return {
    id: row.id,
    labels: run.labels as string[],
    flow: row.version_group_id,
    flowName: row.flow_name,
    concurrency: (flow.concurrency as FlowConcurrency | null) ?? null,
    parameters: (run.parameters as Record<string, unknown>) ?? {},
  };
}

/** Runs holding slots now (claimed and not ended), with their flows' limits. */
export async function runsHoldingSlots(tx: Tx): Promise<RunHoldingSlot[]> {
  const rows = await tx
    .selectFrom("flow_run")
    .innerJoin("flow", "flow.id", "flow_run.flow_id")
    .select(GATE_COLUMNS)
    .where("flow_run.state", "in", [...SLOT_HOLDING_STATES])
    .execute();
  return rows.map(runAtGate);
}

/** Limits set on the server (per label, per tag), and task runs' slots under tag limits. */
export class ConcurrencyStore {
  constructor(
    private readonly database: Pick<RegentDatabase, "db" | "dialect">,
    private readonly clock: Clock,
  ) {}

  private get db() {
    return this.database.db;
  }

  private checkKind(kind: string): LimitKind {
    if (!(LIMIT_KINDS as readonly string[]).includes(kind))
      throw new InvalidUsageError(`a limit's kind is label (flow runs) or tag (task runs), not "${kind}"`);
    return kind as LimitKind;
  }

  /** Sets (or changes) the limit of a label or tag. */
  async setLimit(kind: string, name: string, slots: number): Promise<Row<"concurrency_limit">> {
    const k = this.checkKind(kind);
    if (!name.trim()) throw new InvalidUsageError("a limit needs the name of its label or tag");
    if (!Number.isInteger(slots) || slots < 0)
      throw new InvalidUsageError(`a limit is a whole number of runs at once (0 stops all), not ${slots}`);
    const now = this.clock().toISOString();
    const row = await this.db
      .insertInto("concurrency_limit")
      .values(
        encodeRow("concurrency_limit", this.database.dialect, {
          id: newId(),
          kind: k,
          name,
          slots,
          created: now,
          updated: now,
        }) as never,
      )
      .onConflict((oc) => oc.columns(["kind", "name"]).doUpdateSet({ slots, updated: now } as never))
      .returningAll()
      .executeTakeFirstOrThrow();
    return decodeRow("concurrency_limit", row);
  }

  async deleteLimit(kind: string, name: string): Promise<void> {
    const k = this.checkKind(kind);
    const result = await this.db
      .deleteFrom("concurrency_limit")
      .where("kind", "=", k)
      .where("name", "=", name)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw new NotFoundError("LIMIT_NOT_FOUND", `no ${k} limit named "${name}"`, { kind: k, name });
  }

  /**
   * Takes a slot of each limited tag for a task run, if every one has room; otherwise takes none and
   * says why. Asking again for a task run that holds its slots is granted (a retried request).
   */
  async acquireTaskSlots(input: {
    flowRunId: string;
    taskRunId: string;
    tags: readonly string[];
  }): Promise<{ granted: boolean; reason: string | null }> {
    return this.db.transaction().execute(async (tx) => {
      await lockLimits(tx, this.database.dialect, "task-slots");
      const limits = await limitsOf(tx, "tag");
      const tags = [...new Set(input.tags)].filter((t) => limits.has(t));
      if (tags.length === 0) return { granted: true, reason: null };
      const mine = await tx
        .selectFrom("task_slot")
        .select("tag")
        .where("task_run_id", "=", input.taskRunId)
        .execute();
      if (mine.length > 0) return { granted: true, reason: null };
      const held = await tx
        .selectFrom("task_slot")
        .innerJoin("flow_run", "flow_run.id", "task_slot.flow_run_id")
        .select(["task_slot.tag", (eb) => eb.fn.countAll<string>().as("n")])
        .where("task_slot.tag", "in", tags)
        .where("flow_run.state", "not in", ENDED)
        .groupBy("task_slot.tag")
        .execute();
      const reason = gateTaskRun(tags, limits, new Map(held.map((h) => [h.tag, Number(h.n)])));
      if (reason) return { granted: false, reason };
      const now = this.clock().toISOString();
      await tx
        .insertInto("task_slot")
        .values(
          tags.map((tag) =>
            encodeRow("task_slot", this.database.dialect, {
              task_run_id: input.taskRunId,
              tag,
              flow_run_id: input.flowRunId,
              acquired: now,
            }),
          ) as never,
        )
        .execute();
      return { granted: true, reason: null };
    });
  }

  /** Frees the slots of task runs (done, or between attempts). */
  async releaseTaskSlots(taskRunIds: readonly string[]): Promise<number> {
    if (taskRunIds.length === 0) return 0;
    const result = await this.db
      .deleteFrom("task_slot")
      .where("task_run_id", "in", taskRunIds)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
