import { createHash } from "node:crypto";
import {
  agentCanTakeRun,
  checkRegisteredRunConfig,
  checkRunConfigOverride,
  checkSchedule,
  decideTransition,
  type FlowConcurrency,
  FlowConcurrencySchema,
  gateRuns,
  InvalidParametersError,
  InvalidTransitionError,
  InvalidUsageError,
  isFinal,
  NotFoundError,
  newId,
  type ParameterIssue,
  parseDuration,
  RegentError,
  type RunStateType,
  RunStateTypeSchema,
  type Schedule,
  StaleStateVersionError,
  serializeError,
} from "@regent/core";
import type { Transaction } from "kysely";
import { decodeRow, encodeRow, toIsoTimestamp } from "../db/codec.js";
import type { Database, RegentDatabase } from "../db/database.js";
import { type Row, TABLES } from "../db/tables.js";
import type { ServerEvents, StateEvent } from "../events.js";
import { ApiKeyStore } from "./api-keys.js";
import {
  ConcurrencyStore,
  GATE_COLUMNS,
  limitsOf,
  lockLimits,
  runAtGate,
  runsHoldingSlots,
} from "./concurrency.js";
import { validateAgainstJsonSchema } from "./json-schema.js";
import { NotificationStore } from "./notifications.js";
import { requireProject } from "./projects.js";
import { RunControl } from "./run-control.js";
import { newRunRows } from "./run-rows.js";
import { RunTokens } from "./run-tokens.js";
import { removeUpcomingAutoRuns, Scheduling } from "./scheduling.js";
import { SecretStore } from "./secrets.js";
import { TaskQueueStore } from "./task-queue.js";

export type Clock = () => Date;

export interface RegisterFlowInput {
  projectId: string;
  name: string;
  description?: string | null;
  parametersSchema?: unknown;
  runConfig?: unknown;
  labels?: readonly string[];
  storage?: unknown;
  schedule?: unknown;
  /** The flow's own concurrency limit `{ limit, key? }`. */
  concurrency?: unknown;
  /** Lazarus restarts allowed to its runs (null: the server's default). */
  maxRestarts?: number | null;
  contentHash: string;
}

export interface CreateFlowRunInput {
  flowId?: string | null;
  versionGroupId?: string | null;
  parameters?: Record<string, unknown> | null;
  context?: Record<string, unknown> | null;
  flowRunName?: string | null;
  labels?: readonly string[] | null;
  runConfig?: Record<string, unknown> | null;
  scheduledStartTime?: string | null;
  idempotencyKey?: string | null;
  /** The flow run that starts this one (flows of flows). */
  parentFlowRunId?: string | null;
  /** This run's maximum duration, over its flow's timeout: `"2h"`, `"30m"`. */
  timeout?: string | null;
}

export interface StateInput {
  type: RunStateType;
  message?: string | null;
  data?: Record<string, unknown> | null;
  timestamp?: string | null;
}

export interface SetStateItem {
  /** Client-generated id of this state write: replaying an applied id is a no-op that succeeds. */
  id?: string | null;
  runId: string;
  /** The state version the writer read. */
  version: number;
  state: StateInput;
}

export interface SetStateResult {
  id: string;
  runId: string;
  status: "SUCCESS" | "ERROR";
  version: number | null;
  message: string | null;
  code: string | null;
}

export interface CreateTaskRunItem {
  id: string;
  flowRunId: string;
  taskKey: string;
  taskName: string;
  mapIndex?: number | null;
  parentTaskRunId?: string | null;
  upstream?: readonly string[] | null;
  tags?: readonly string[] | null;
  /** Its place in the flow run, matched when the run is restarted or resumed (see task_run.run_key). */
  runKey?: string | null;
  timestamp?: string | null;
  /** States entered after Pending, in order (versions 2, 3, …), written with the task run. */
  states?: readonly StateInput[] | null;
}

export interface LogItem {
  id?: string | null;
  flowRunId: string;
  taskRunId?: string | null;
  level: string;
  message: string;
  timestamp?: string | null;
}

type Tx = Transaction<Database>;

/** A flow's own concurrency limit as registered: its shape, and a `key` that names one of its parameters. */
function checkFlowConcurrency(name: string, input: RegisterFlowInput): FlowConcurrency {
  const parsed = FlowConcurrencySchema.safeParse(input.concurrency);
  if (!parsed.success)
    throw new InvalidUsageError(
      `flow ${name}: concurrency is { limit: a whole number ≥ 1, key?: a parameter name }: ${parsed.error.issues.map((i) => `${i.path.join(".") || "concurrency"}: ${i.message}`).join("; ")}`,
    );
  const properties = (input.parametersSchema as { properties?: Record<string, unknown> } | null)?.properties;
  const key = parsed.data.key;
  if (key !== undefined && properties && !(key in properties))
    throw new InvalidUsageError(
      `flow ${name}: concurrency key "${key}" is not one of its parameters (${Object.keys(properties).join(", ") || "none"})`,
    );
  return parsed.data;
}

/** A run's own timeout, as create_flow_run takes it. */
function runTimeout(value: string): number {
  const ms = parseDuration(value, "timeout");
  if (ms < 1_000) throw new InvalidUsageError(`timeout: at least 1 s (got ${JSON.stringify(value)})`);
  return ms;
}

function checkMaxRestarts(name: string, value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isInteger(value) || value < 0 || value > 100)
    throw new InvalidUsageError(
      `flow ${name}: maxRestarts must be a whole number from 0 to 100 (got ${value})`,
    );
  return value;
}

/**
 * Rows per multi-row INSERT of `table`: as many as keep its bound values under 30,000 (SQLite allows
 * 32,766, PostgreSQL 65,535). Fewer, larger statements: each one is a round trip, and on PostgreSQL the
 * server waits for it with nothing else to do.
 */
const rowsPerInsert = (table: keyof typeof TABLES): number =>
  Math.floor(30_000 / Object.keys(TABLES[table]).length);

const HISTORY_PER_INSERT = rowsPerInsert("task_run_state");

/** Task runs per chunk of create_task_runs: smaller than one statement allows, so chunks pipeline. */
const CREATE_CHUNK = 500;

/** One INSERT of state-history rows (encoded), compiled: at most rowsPerInsert(table) of them. */
const historyInsert = (
  tx: Tx,
  table: "flow_run_state" | "task_run_state",
  rows: readonly Record<string, unknown>[],
) =>
  tx
    .insertInto(table)
    .values(rows as never)
    .compile();

/**
 * The system of record: every write the API makes, each in one transaction, checked by core's transition
 * rules and the version the writer read. SQL lives here and in `filters.ts` only.
 */
export class Store {
  constructor(
    readonly database: RegentDatabase,
    private readonly clock: Clock = () => new Date(),
    /** Told of committed changes (subscriptions); optional so tools can use the store alone. */
    readonly events?: ServerEvents,
    private readonly settings: {
      readonly canEmail?: boolean;
      /** What heartbeats and agents' reports of lost runs are judged with. */
      readonly lazarus?: { readonly heartbeatTimeoutMs: number; readonly maxRestarts: number };
      /** Encrypts flows' secrets (32 bytes); without it, secrets cannot be set or read. */
      readonly secretsKey?: Buffer | undefined;
    } = {},
  ) {}

  /** Lazarus's settings as the API's mutations see them (defaults without services). */
  get lazarus(): { readonly heartbeatTimeoutMs: number; readonly maxRestarts: number } {
    return this.settings.lazarus ?? { heartbeatTimeoutMs: 90_000, maxRestarts: 3 };
  }

  /** Publishes state events once their transaction has committed. @internal for the store's modules */
  publishStates(events: readonly StateEvent[]): void {
    if (!this.events) return;
    for (const e of events) {
      this.events.publish("flow_run:state", e.flow_run_id, e);
      if (e.kind === "flow_run_state") this.events.publish("flow_run:flow_state", e.flow_run_id, e);
    }
  }

  /** Wakes the agents that may take a run now due. @internal for the store's modules */
  publishClaimable(run: Row<"flow_run">): void {
    if (
      run.state === "Scheduled" &&
      Date.parse(run.scheduled_start_time as string) <= this.clock().getTime()
    ) {
      this.events?.publish("claimable", { flow_run_id: run.id as string, labels: run.labels as string[] });
    }
  }

  private get db() {
    return this.database.db;
  }

  private concurrencyStore: ConcurrencyStore | undefined;
  /** Concurrency limits per label and tag, and task runs' slots. */
  get concurrency(): ConcurrencyStore {
    this.concurrencyStore ??= new ConcurrencyStore(this.database, this.clock);
    return this.concurrencyStore;
  }

  /** The server's time (tests inject a clock). */
  currentTime(): Date {
    return this.clock();
  }

  private apiKeyStore: ApiKeyStore | undefined;
  /** API keys: created, listed, revoked, and checked on each request. */
  get apiKeys(): ApiKeyStore {
    this.apiKeyStore ??= new ApiKeyStore(this.database, this.clock);
    return this.apiKeyStore;
  }

  private secretStore: SecretStore | undefined;
  /** Secrets for flows, encrypted with the server's secrets key. */
  get secrets(): SecretStore {
    this.secretStore ??= new SecretStore(this.database, this.clock, this.settings.secretsKey);
    return this.secretStore;
  }

  private taskQueueStore: TaskQueueStore | undefined;
  /** Flow runs' task queues (the cluster task runner): jobs enqueued, claimed by workers, completed, taken. */
  get taskQueue(): TaskQueueStore {
    this.taskQueueStore ??= new TaskQueueStore(this.database, this.clock, this.events);
    return this.taskQueueStore;
  }

  private runTokenStore: RunTokens | undefined;
  /** The tokens claimed runs get, each valid for its run only. */
  get runTokens(): RunTokens {
    this.runTokenStore ??= new RunTokens(this.database, this.clock);
    return this.runTokenStore;
  }

  private notificationStore: NotificationStore | undefined;
  /** Notification rules and the outbox. */
  get notifications(): NotificationStore {
    this.notificationStore ??= new NotificationStore(
      this.database,
      this.clock,
      () => this.settings.canEmail === true,
    );
    return this.notificationStore;
  }

  private runControlStore: RunControl | undefined;
  /** Restarting finished runs and resuming paused ones. */
  get runControl(): RunControl {
    this.runControlStore ??= new RunControl(this.database, this, this.clock);
    return this.runControlStore;
  }

  private schedulingStore: Scheduling | undefined;
  /** Schedules' reads and writes beyond registering and turning on/off: backfills. */
  get scheduling(): Scheduling {
    this.schedulingStore ??= new Scheduling(this.database, this, this.clock, this.events);
    return this.schedulingStore;
  }
  private get dialect() {
    return this.database.dialect;
  }
  private now(): string {
    return this.clock().toISOString();
  }

  // ── projects ─────────────────────────────────────────────────────────────

  async createProject(name: string, description?: string | null): Promise<Row<"project">> {
    const trimmed = name.trim();
    if (!trimmed) throw new InvalidUsageError("a project needs a name");
    const existing = await this.db
      .selectFrom("project")
      .select("id")
      .where("name", "=", trimmed)
      .executeTakeFirst();
    if (existing)
      throw new RegentError("PROJECT_EXISTS", `a project named "${trimmed}" exists already`, {
        details: { id: existing.id },
      });
    const now = this.now();
    const row = encodeRow("project", this.dialect, {
      id: newId(),
      name: trimmed,
      description: description ?? null,
      created: now,
      updated: now,
    });
    const inserted = await this.db
      .insertInto("project")
      .values(row as never)
      .returningAll()
      .executeTakeFirstOrThrow();
    return decodeRow("project", inserted);
  }

  async deleteProject(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom("project").where("id", "=", id).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw new NotFoundError("PROJECT_NOT_FOUND", `no project with id ${id}`, { id });
    return true;
  }

  async projectByName(name: string): Promise<Row<"project"> | undefined> {
    const row = await this.db.selectFrom("project").selectAll().where("name", "=", name).executeTakeFirst();
    return row && decodeRow("project", row);
  }

  // ── flows ────────────────────────────────────────────────────────────────

  /**
   * Registers a flow version. The same content hash as the newest version returns that version
   * (`created: false`); different content becomes the next version and archives the previous one.
   */
  async registerFlow(input: RegisterFlowInput): Promise<{ flow: Row<"flow">; created: boolean }> {
    const name = input.name.trim();
    checkRegisteredRunConfig(input.runConfig);
    if (!name) throw new InvalidUsageError("a flow needs a name");
    const schedule = input.schedule ? await this.checkFlowSchedule(name, input) : null;
    const concurrency = input.concurrency ? checkFlowConcurrency(name, input) : null;
    const registered = await this.db.transaction().execute(async (tx) => {
      await requireProject(tx, input.projectId);
      const latest = await tx
        .selectFrom("flow")
        .selectAll()
        .where("project_id", "=", input.projectId)
        .where("name", "=", name)
        .orderBy("version", "desc")
        .limit(1)
        .executeTakeFirst();
      if (latest && latest.content_hash === input.contentHash) {
        const row = decodeRow("flow", latest);
        if (!row.archived) return { flow: row, created: false };
      }
      const now = this.now();
      if (latest) {
        const archived = await tx
          .updateTable("flow")
          .set(encodeRow("flow", this.dialect, { archived: true, schedule_due: null, updated: now }) as never)
          .where("version_group_id", "=", latest.version_group_id)
          .returning("id")
          .execute();
        await removeUpcomingAutoRuns(
          tx,
          this.dialect,
          archived.map((r) => r.id),
          now,
        );
      }
      const values = encodeRow("flow", this.dialect, {
        id: newId(),
        version_group_id: latest?.version_group_id ?? newId(),
        project_id: input.projectId,
        name,
        version: (latest?.version ?? 0) + 1,
        archived: false,
        description: input.description ?? null,
        parameters_schema: input.parametersSchema ?? null,
        run_config: input.runConfig ?? null,
        labels: [...new Set(input.labels ?? [])].sort(),
        storage: input.storage ?? null,
        schedule,
        concurrency,
        max_restarts: checkMaxRestarts(name, input.maxRestarts),
        schedule_active: true,
        schedule_due: schedule ? now : null,
        content_hash: input.contentHash,
        created: now,
        updated: now,
      });
      const inserted = await tx
        .insertInto("flow")
        .values(values as never)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { flow: decodeRow("flow", inserted), created: true };
    });
    if (registered.created && schedule) this.events?.publish("schedules:changed");
    return registered;
  }

  /** A flow's schedule as registered: each clock valid, and each clock's parameters valid for the flow. */
  private async checkFlowSchedule(name: string, input: RegisterFlowInput): Promise<Schedule> {
    const schedule = await checkSchedule(input.schedule);
    if (input.parametersSchema) {
      for (const [i, clock] of schedule.clocks.entries()) {
        const issues = await validateAgainstJsonSchema(input.parametersSchema, { ...clock.parameters });
        if (issues.length > 0) throw new InvalidParametersError(issues, `${name} (schedule clock ${i + 1})`);
      }
    }
    return schedule;
  }

  private async flowById(tx: Tx | RegentDatabase["db"], id: string): Promise<Row<"flow">> {
    const row = await tx.selectFrom("flow").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError("FLOW_NOT_FOUND", `no flow with id ${id}`, { id });
    return decodeRow("flow", row);
  }

  /** Archives a flow version; its scheduler's runs that are not due yet are removed. */
  async archiveFlow(id: string): Promise<Row<"flow">> {
    await this.flowById(this.db, id);
    const now = this.now();
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable("flow")
        .set(encodeRow("flow", this.dialect, { archived: true, schedule_due: null, updated: now }) as never)
        .where("id", "=", id)
        .execute();
      await removeUpcomingAutoRuns(tx, this.dialect, [id], now);
    });
    return this.flowById(this.db, id);
  }

  /**
   * Turns a flow version's schedule on or off. Off removes the runs its scheduler created that are not
   * due yet; on plans it again from now (fire times passed while off are not caught up).
   */
  async setScheduleActive(id: string, active: boolean): Promise<Row<"flow">> {
    const flow = await this.flowById(this.db, id);
    const now = this.now();
    const plan = active && flow.schedule !== null && !flow.archived;
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable("flow")
        .set(
          encodeRow("flow", this.dialect, {
            schedule_active: active,
            schedule_due: plan ? now : null,
            ...(plan ? { schedule_through: now } : {}),
            updated: now,
          }) as never,
        )
        .where("id", "=", id)
        .execute();
      if (!active) await removeUpcomingAutoRuns(tx, this.dialect, [id], now);
    });
    if (plan) this.events?.publish("schedules:changed");
    return this.flowById(this.db, id);
  }

  // ── flow runs ────────────────────────────────────────────────────────────

  /**
   * Creates a Scheduled flow run of a flow version (`flowId`) or of the newest unarchived version of a
   * version group. Parameters: the schema's defaults, overridden by those given, validated against the
   * version's JSON Schema. A repeated idempotency key for the same flow returns the existing run.
   */
  async createFlowRun(input: CreateFlowRunInput): Promise<Row<"flow_run">> {
    const flow = await this.runnableFlow(input, "create_flow_run");
    if (input.idempotencyKey) {
      const existing = await this.runByIdempotencyKey(flow.id as string, input.idempotencyKey);
      if (existing) return existing;
    }
    if (input.parentFlowRunId) await this.flowRunById(input.parentFlowRunId);
    // jsonb takes any JSON: a list or a string would otherwise be spread into {"0": …}, a number into {}.
    const given: unknown = input.parameters;
    if (given != null && (typeof given !== "object" || Array.isArray(given)))
      throw new InvalidParametersError(
        [
          {
            path: "",
            message: `parameters are a JSON object of name → value, not ${Array.isArray(given) ? "a list" : `a ${typeof given}`}`,
          },
        ],
        flow.name ?? undefined,
      );
    const parameters = { ...(input.parameters ?? {}) };
    if (flow.parameters_schema) {
      const issues: ParameterIssue[] = await validateAgainstJsonSchema(flow.parameters_schema, parameters);
      if (issues.length > 0) throw new InvalidParametersError(issues, flow.name ?? undefined);
    }
    if (input.runConfig != null) checkRunConfigOverride(flow.run_config, input.runConfig);
    const now = this.now();
    const rows = newRunRows(this.dialect, {
      flow,
      parameters,
      context: input.context,
      labels: input.labels,
      runConfig: input.runConfig,
      name: input.flowRunName,
      scheduledStartTime: input.scheduledStartTime ? toIsoTimestamp(input.scheduledStartTime) : now,
      idempotencyKey: input.idempotencyKey,
      parentFlowRunId: input.parentFlowRunId,
      timeoutMs: input.timeout ? runTimeout(input.timeout) : null,
      now,
    });
    try {
      const created = await this.db.transaction().execute(async (tx) => {
        const inserted = await tx
          .insertInto("flow_run")
          .values(rows.flowRun as never)
          .returningAll()
          .executeTakeFirstOrThrow();
        await tx
          .insertInto("flow_run_state")
          .values(rows.state as never)
          .execute();
        return decodeRow("flow_run", inserted);
      });
      this.publishClaimable(created);
      return created;
    } catch (error) {
      // Two requests with one idempotency key at once: the unique index lets one in; return its run.
      if (input.idempotencyKey) {
        const existing = await this.runByIdempotencyKey(flow.id as string, input.idempotencyKey);
        if (existing) return existing;
      }
      throw error;
    }
  }

  /**
   * The flow version a run request names: `flowId` (refused when archived) or the newest unarchived
   * version of `versionGroupId`.
   */
  async runnableFlow(
    input: { flowId?: string | null; versionGroupId?: string | null },
    what: string,
  ): Promise<Row<"flow">> {
    if (!input.flowId === !input.versionGroupId) {
      throw new InvalidUsageError(`${what} needs exactly one of flow_id or version_group_id`);
    }
    const flow = input.flowId
      ? await this.flowById(this.db, input.flowId)
      : await this.newestVersion(input.versionGroupId!);
    if (flow.archived) {
      throw new RegentError(
        "FLOW_ARCHIVED",
        `flow ${flow.name} version ${flow.version} (${flow.id}) is archived; run the newest version with version_group_id ${flow.version_group_id}`,
        { details: { flowId: flow.id, versionGroupId: flow.version_group_id } },
      );
    }
    return flow;
  }

  private async runByIdempotencyKey(flowId: string, key: string): Promise<Row<"flow_run"> | undefined> {
    const row = await this.db
      .selectFrom("flow_run")
      .selectAll()
      .where("flow_id", "=", flowId)
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
    return row && decodeRow("flow_run", row);
  }

  private async newestVersion(versionGroupId: string): Promise<Row<"flow">> {
    const rows = await this.db
      .selectFrom("flow")
      .selectAll()
      .where("version_group_id", "=", versionGroupId)
      .orderBy("version", "desc")
      .execute();
    if (rows.length === 0) {
      throw new NotFoundError("FLOW_NOT_FOUND", `no flow with version_group_id ${versionGroupId}`, {
        versionGroupId,
      });
    }
    const unarchived = rows.map((r) => decodeRow("flow", r)).find((r) => !r.archived);
    return unarchived ?? decodeRow("flow", rows[0]!);
  }

  /** Applies state writes to flow runs, each on its own: one refused write does not stop the others. */
  async setFlowRunStates(
    items: readonly SetStateItem[],
    options: { userMark?: boolean } = {},
  ): Promise<SetStateResult[]> {
    const results: SetStateResult[] = [];
    for (const item of items) {
      const events: StateEvent[] = [];
      results.push(
        await this.db.transaction().execute((tx) => this.applyState(tx, "flow_run", item, options, events)),
      );
      this.publishStates(events);
    }
    return results;
  }

  /** Applies state writes to task runs in one transaction per batch; each item is judged on its own. */
  async setTaskRunStates(items: readonly SetStateItem[]): Promise<SetStateResult[]> {
    if (items.length === 0) return []; // batch writers send the field empty most of the time
    const events: StateEvent[] = [];
    const results = await this.db
      .transaction()
      .execute((tx) => this.applyRunStates(tx, "task_run", items, events));
    this.publishStates(events);
    return results;
  }

  /**
   * State writes to flow runs or task runs, as one batch: the runs and the already-applied write ids are
   * read once, each write is judged in order against the state the previous one left (so one batch may
   * move a run several times), then the history is inserted in bulk and each changed run written back
   * once. A batch of 100 is a handful of statements, not hundreds. @internal for the store's modules
   */
  async applyRunStates(
    tx: Tx,
    table: "flow_run" | "task_run",
    items: readonly SetStateItem[],
    events: StateEvent[],
    options: { userMark?: boolean; restart?: boolean } = {},
  ): Promise<SetStateResult[]> {
    const historyTable = table === "flow_run" ? "flow_run_state" : "task_run_state";
    const runIds = [...new Set(items.map((i) => i.runId))];
    const writeIds = items.flatMap((i) => (i.id ? [i.id] : []));
    const applied = new Map<string, number>();
    const current = new Map<string, Record<string, unknown>>();
    for (let i = 0; i < Math.max(runIds.length, writeIds.length); i += 1000) {
      const ids = runIds.slice(i, i + 1000);
      if (ids.length > 0) {
        // One lock order (by id) for every batch, so concurrent batches cannot deadlock.
        let query = tx
          .selectFrom(table as "task_run")
          .selectAll()
          .where("id", "in", ids)
          .orderBy("id");
        if (this.dialect === "postgres") query = query.forUpdate();
        for (const row of (await query.execute()) as unknown as Record<string, unknown>[]) {
          current.set(row.id as string, { ...decodeRow(table, row) });
        }
      }
      const wids = writeIds.slice(i, i + 1000);
      if (wids.length > 0) {
        const rows = await tx
          .selectFrom(historyTable)
          .select(["id", "version"])
          .where("id", "in", wids)
          .execute();
        for (const row of rows) applied.set(row.id, row.version);
      }
    }
    const judged = this.judgeStateWrites(table, items, current, applied, options);
    events.push(...judged.events);
    await this.insertHistory(tx, historyTable, judged.history);
    // The changed runs in as few statements as the bound-value limit allows: an upsert whose insert never
    // happens (the rows exist and are locked) — the portable multi-row UPDATE of SQLite and PostgreSQL.
    const rows = [...judged.changed].map((id) => encodeRow(table, this.dialect, current.get(id)! as never));
    const written = [
      "state",
      "state_message",
      "state_version",
      "state_timestamp",
      "start_time",
      "end_time",
      "updated",
    ];
    if (table === "task_run") written.push("attempts", "result_ref", "result");
    const perInsert = rowsPerInsert(table);
    for (let i = 0; i < rows.length; i += perInsert) {
      await tx
        .insertInto(table)
        .values(rows.slice(i, i + perInsert) as never)
        .onConflict((oc) =>
          oc
            .column("id")
            .doUpdateSet(
              (eb) => Object.fromEntries(written.map((c) => [c, eb.ref(`excluded.${c}` as never)])) as never,
            ),
        )
        .execute();
    }
    if (table === "flow_run" && judged.events.length > 0)
      await this.notifications.enqueue(tx, judged.events, current);
    return judged.results;
  }

  /**
   * Judges state writes in order against runs held in memory (decoded rows, changed in place): each by
   * core's transition rules and the version its writer read, a write id already applied succeeding again
   * without a change. Returns what to persist and publish; reads and writes nothing itself.
   */
  private judgeStateWrites(
    table: "flow_run" | "task_run",
    items: readonly SetStateItem[],
    current: Map<string, Record<string, unknown>>,
    applied: Map<string, number>,
    options: { userMark?: boolean; restart?: boolean },
  ): {
    results: SetStateResult[];
    history: Record<string, unknown>[];
    changed: Set<string>;
    events: StateEvent[];
  } {
    const historyTable = table === "flow_run" ? "flow_run_state" : "task_run_state";
    const now = this.now();
    const history: Record<string, unknown>[] = [];
    const changed = new Set<string>();
    const results: SetStateResult[] = [];
    const events: StateEvent[] = [];
    for (const item of items) {
      const stateId = item.id ?? newId();
      const fail = (error: RegentError): SetStateResult => ({
        id: stateId,
        runId: item.runId,
        status: "ERROR",
        version: null,
        message: error.message,
        code: error.code,
      });
      const parsed = RunStateTypeSchema.safeParse(item.state.type);
      if (!parsed.success) {
        results.push(fail(new InvalidUsageError(`unknown state type ${JSON.stringify(item.state.type)}`)));
        continue;
      }
      const replayed = item.id ? applied.get(item.id) : undefined;
      if (replayed !== undefined) {
        results.push({
          id: stateId,
          runId: item.runId,
          status: "SUCCESS",
          version: replayed,
          message: "already applied",
          code: null,
        });
        continue;
      }
      const run = current.get(item.runId);
      if (!run) {
        const code = table === "flow_run" ? "FLOW_RUN_NOT_FOUND" : "TASK_RUN_NOT_FOUND";
        results.push(
          fail(
            new NotFoundError(code, `no ${table.replace("_", " ")} with id ${item.runId}`, {
              id: item.runId,
            }),
          ),
        );
        continue;
      }
      const from = run.state as RunStateType;
      const to = parsed.data;
      const readAt = run.state_version as number;
      const decision = decideTransition({
        from,
        to,
        readVersion: item.version,
        currentVersion: readAt,
        userMark: options.userMark,
        restart: options.restart,
      });
      if (decision.verdict !== "accept") {
        results.push(
          fail(
            decision.rule === "stale-version"
              ? new StaleStateVersionError(item.version, readAt)
              : new InvalidTransitionError(from, to, decision.reason),
          ),
        );
        continue;
      }
      const version = readAt + 1;
      const timestamp = item.state.timestamp ? toIsoTimestamp(item.state.timestamp) : now;
      // The run is locked (PostgreSQL FOR UPDATE; SQLite's single writer), so it is changed here in
      // memory and written back once, whatever number of writes the batch holds for it.
      changed.add(item.runId);
      Object.assign(run, {
        state: to,
        state_message: item.state.message ?? null,
        state_version: version,
        state_timestamp: timestamp,
        updated: now,
      });
      if (to === "Running") run.start_time ??= timestamp;
      if (isFinal(to)) run.end_time = timestamp;
      let data = item.state.data ?? null;
      if (table === "task_run") {
        if (to === "Running") run.attempts = (run.attempts as number) + 1;
        if (typeof data?.resultRef === "string") run.result_ref = data.resultRef;
        // A result kept in the database lives on the task run, once, not in its state history too.
        if (data && "result" in data) {
          const { result, ...rest } = data;
          run.result = result ?? null;
          data = Object.keys(rest).length > 0 ? rest : null;
        }
      }
      if (item.id) applied.set(item.id, version);
      const flowRunId = (table === "flow_run" ? item.runId : run.flow_run_id) as string;
      history.push(
        encodeRow(historyTable, this.dialect, {
          id: stateId,
          ...(table === "task_run" ? { task_run_id: item.runId } : {}),
          flow_run_id: flowRunId,
          state: to,
          message: item.state.message ?? null,
          timestamp,
          data,
          version,
        } as never),
      );
      events.push({
        kind: table === "flow_run" ? "flow_run_state" : "task_run_state",
        flow_run_id: flowRunId,
        task_run_id: table === "task_run" ? item.runId : null,
        state: to,
        message: item.state.message ?? null,
        version,
        timestamp,
      });
      results.push({
        id: stateId,
        runId: item.runId,
        status: "SUCCESS",
        version,
        message: decision.reason,
        code: null,
      });
    }
    return { results, history, changed, events };
  }

  private async insertHistory(
    tx: Tx,
    table: "flow_run_state" | "task_run_state",
    rows: readonly Record<string, unknown>[],
  ): Promise<void> {
    const perInsert = rowsPerInsert(table);
    for (let i = 0; i < rows.length; i += perInsert) {
      await tx.executeQuery(historyInsert(tx, table, rows.slice(i, i + perInsert)));
    }
  }

  /** One state write, inside the caller's transaction. */
  private async applyState(
    tx: Tx,
    table: "flow_run" | "task_run",
    item: SetStateItem,
    options: { userMark?: boolean },
    /** Accepted changes are added here, for the caller to publish after commit. */
    events: StateEvent[],
  ): Promise<SetStateResult> {
    return (await this.applyRunStates(tx, table, [item], events, options))[0]!;
  }

  /**
   * Cancels a flow run: one that has not started ends Cancelled at once; a running one goes Cancelling
   * (its executor stops its task runs and reports Cancelled). A final run is refused.
   */
  async cancelFlowRun(id: string): Promise<Row<"flow_run">> {
    const run = await this.flowRunById(id);
    if (isFinal(run.state as RunStateType)) {
      throw new InvalidTransitionError(run.state as string, "Cancelled", `the run is already ${run.state}`);
    }
    const to: RunStateType = run.state === "Running" || run.state === "Retrying" ? "Cancelling" : "Cancelled";
    const events: StateEvent[] = [];
    const result = await this.db.transaction().execute(async (tx) => {
      const item = {
        runId: id,
        version: run.state_version as number,
        state: { type: to, message: "cancelled by a user" },
      };
      const written = await this.applyState(tx, "flow_run", item, {}, events);
      // A paused run has no executor to end its pause() gates: they end here with it.
      if (written.status === "SUCCESS" && run.state === "Paused")
        await this.runControl.endUnfinished(tx, id, "Cancelled", "cancelled by a user", events);
      return written;
    });
    this.publishStates(events);
    if (result?.status !== "SUCCESS") {
      throw new RegentError(
        (result?.code as never) ?? "INVALID_TRANSITION",
        result?.message ?? "cancel failed",
      );
    }
    return this.flowRunById(id);
  }

  async flowRunById(id: string): Promise<Row<"flow_run">> {
    const row = await this.db.selectFrom("flow_run").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError("FLOW_RUN_NOT_FOUND", `no flow run with id ${id}`, { id });
    return decodeRow("flow_run", row);
  }

  // ── task runs and logs ───────────────────────────────────────────────────

  /**
   * Creates task runs (Pending, version 1); ids are the client's, so a replayed batch changes nothing.
   * An item may carry the states its task run entered since (`states`: versions 2, 3, …), judged like
   * any state write: the run is then inserted as those states left it, with its whole history, instead
   * of being inserted, read back and rewritten. Returns the count created and the states refused.
   */
  async createTaskRuns(
    all: readonly CreateTaskRunItem[],
    options: {
      /** The execution (restart count) of the writer: runs started again since refuse its task runs. */
      execution?: number | null;
    } = {},
  ): Promise<{ count: number; refused: SetStateResult[] }> {
    if (all.length === 0) return { count: 0, refused: [] };
    const now = this.now();
    const runIds = [...new Set(all.map((i) => i.flowRunId))];
    const events: StateEvent[] = [];
    const result = await this.db.transaction().execute(async (tx) => {
      let count = 0;
      const refused: SetStateResult[] = [];
      // Shared locks: a restart (which locks the run for update) waits, or is waited for.
      let runs = tx.selectFrom("flow_run").select(["id", "restart_count"]).where("id", "in", runIds);
      if (this.dialect === "postgres") runs = runs.forShare();
      const found = new Map((await runs.execute()).map((r) => [r.id, r.restart_count]));
      const missing = runIds.filter((id) => !found.has(id));
      if (missing.length > 0)
        throw new NotFoundError("FLOW_RUN_NOT_FOUND", `no flow run with id ${missing.join(", ")}`, {
          ids: missing,
        });
      let items = all;
      const execution = options.execution;
      if (execution !== undefined && execution !== null) {
        // An executor the server has replaced (Lazarus took its run for lost) creates nothing more.
        items = all.filter((i) => found.get(i.flowRunId) === execution);
        for (const i of all) {
          const current = found.get(i.flowRunId);
          if (current === execution) continue;
          refused.push({
            id: i.id,
            runId: i.id,
            status: "ERROR",
            version: null,
            code: "EXECUTION_SUPERSEDED",
            message: `flow run ${i.flowRunId} was started again (execution ${current}) since this execution (${execution}): task run not created`,
          });
        }
      }
      // Chunks go to the database one statement at a time, but the next statement is built while the
      // database runs the one before (on PostgreSQL the two then overlap; SQLite runs each at once).
      let underway: Promise<unknown> | undefined;
      const settle = async () => {
        const statement = underway;
        underway = undefined;
        await statement;
      };
      for (let i = 0; i < items.length; i += CREATE_CHUNK) {
        const chunk = items.slice(i, i + CREATE_CHUNK);
        const current = new Map<string, Record<string, unknown>>();
        const pending: Record<string, unknown>[] = [];
        const later: SetStateItem[] = [];
        for (const item of chunk) {
          const timestamp = item.timestamp ? toIsoTimestamp(item.timestamp) : now;
          current.set(item.id, {
            id: item.id,
            flow_run_id: item.flowRunId,
            task_key: item.taskKey,
            task_name: item.taskName,
            map_index: item.mapIndex ?? -1,
            parent_task_run_id: item.parentTaskRunId ?? null,
            upstream: item.upstream ?? [],
            tags: item.tags ?? [],
            state: "Pending",
            state_message: null,
            state_version: 1,
            state_timestamp: timestamp,
            attempts: 0,
            cache_key: null,
            result_ref: null,
            run_key: item.runKey ?? null,
            result: null,
            start_time: null,
            end_time: null,
            created: now,
            updated: now,
          });
          pending.push(
            encodeRow("task_run_state", this.dialect, {
              id: newId(),
              task_run_id: item.id,
              flow_run_id: item.flowRunId,
              state: "Pending",
              message: null,
              timestamp,
              data: null,
              version: 1,
            }),
          );
          item.states?.forEach((state, n) => {
            later.push({ id: null, runId: item.id, version: n + 1, state });
          });
        }
        const judged = this.judgeStateWrites("task_run", later, current, new Map(), {});
        const runs = tx
          .insertInto("task_run")
          .values(
            [...current.values()].map((row) => encodeRow("task_run", this.dialect, row as never)) as never,
          )
          .onConflict((oc) => oc.column("id").doNothing())
          .returning("id")
          .compile();
        await settle();
        const inserting = tx.executeQuery(runs);
        // Built while the runs go in, for the usual case that every one of them is new.
        const history = [...pending, ...judged.history];
        const allHistory =
          history.length <= HISTORY_PER_INSERT ? historyInsert(tx, "task_run_state", history) : undefined;
        const inserted = (await inserting).rows as Array<{ id: string }>;
        count += inserted.length;
        if (inserted.length === 0) continue;
        // Runs whose id existed already (a replayed batch) keep what they have: none of their states is
        // written again.
        const fresh = inserted.length === chunk.length ? undefined : new Set(inserted.map((r) => r.id));
        const isFresh = (id: unknown) => !fresh || fresh.has(id as string);
        if (!fresh && allHistory) {
          underway = tx.executeQuery(allHistory);
          // Awaited before the next statement or at the end; until then its failure must not go unhandled.
          underway.catch(() => {});
        } else {
          await this.insertHistory(
            tx,
            "task_run_state",
            history.filter((h) => isFresh(h.task_run_id)),
          );
        }
        events.push(...judged.events.filter((e) => isFresh(e.task_run_id)));
        refused.push(...judged.results.filter((r) => r.status !== "SUCCESS" && isFresh(r.runId)));
      }
      await settle();
      return { count, refused };
    });
    this.publishStates(events);
    return result;
  }

  /** Appends log lines; ids are the client's (or made here), so a replayed batch adds nothing twice. */
  async writeLogs(items: readonly LogItem[]): Promise<number> {
    if (items.length === 0) return 0;
    const now = this.now();
    let written = 0;
    const perInsert = rowsPerInsert("log");
    for (let i = 0; i < items.length; i += perInsert) {
      const rows = items.slice(i, i + perInsert).map((item) =>
        encodeRow("log", this.dialect, {
          id: item.id ?? newId(),
          flow_run_id: item.flowRunId,
          task_run_id: item.taskRunId ?? null,
          level: item.level,
          message: item.message,
          timestamp: item.timestamp ? toIsoTimestamp(item.timestamp) : now,
        }),
      );
      try {
        const inserted = await this.db
          .insertInto("log")
          .values(rows as never)
          .onConflict((oc) => oc.column("id").doNothing())
          .returning("id")
          .execute();
        written += inserted.length;
        if (this.events) {
          const fresh = new Set(inserted.map((r) => r.id));
          for (const row of rows) {
            if (!fresh.has(row.id as string)) continue;
            this.events.publish("flow_run:log", row.flow_run_id as string, {
              id: row.id as string,
              flow_run_id: row.flow_run_id as string,
              task_run_id: (row.task_run_id as string | null) ?? null,
              level: row.level as string,
              message: row.message as string,
              timestamp: row.timestamp as string,
            });
          }
        }
      } catch (error) {
        if (/foreign key/i.test((error as Error).message)) {
          throw new NotFoundError("FLOW_RUN_NOT_FOUND", "a log line names a flow run that does not exist", {
            cause: serializeError(error),
          });
        }
        throw error;
      }
    }
    return written;
  }

  // ── bundles ──────────────────────────────────────────────────────────────

  /** Keeps a flow bundle by its sha256; the same bundle twice is stored once. */
  async putBundle(hash: string, code: string): Promise<{ hash: string; created: boolean }> {
    const actual = createHash("sha256").update(code).digest("hex");
    if (actual !== hash) {
      throw new InvalidUsageError(
        `the bundle's sha256 is ${actual}, not the ${hash} it was sent with; it was damaged on the way`,
      );
    }
    const inserted = await this.db
      .insertInto("flow_bundle")
      .values(
        encodeRow("flow_bundle", this.dialect, {
          hash,
          code,
          size: Buffer.byteLength(code),
          created: this.now(),
        }) as never,
      )
      .onConflict((oc) => oc.column("hash").doNothing())
      .returning("hash")
      .execute();
    return { hash, created: inserted.length > 0 };
  }

  async getBundle(hash: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("flow_bundle")
      .select("code")
      .where("hash", "=", hash)
      .executeTakeFirst();
    return row?.code;
  }

  /**
   * The executor of a run says it is alive (Lazarus judges runs by this). With `execution` (the restart
   * count it was started for), a heartbeat from an execution the run has moved past is not recorded:
   * `superseded` tells that executor to stop. The run's state comes back, so a Cancelling one is seen.
   */
  async flowRunHeartbeat(
    id: string,
    execution?: number | null,
  ): Promise<{ state: string; superseded: boolean; intervalMs: number }> {
    let update = this.db
      .updateTable("flow_run")
      .set(encodeRow("flow_run", this.dialect, { heartbeat: this.now() }) as never)
      .where("id", "=", id);
    if (execution !== undefined && execution !== null) update = update.where("restart_count", "=", execution);
    const result = await update.executeTakeFirst();
    // The state only: a heartbeat comes every few seconds from every running executor.
    const run = await this.db.selectFrom("flow_run").select("state").where("id", "=", id).executeTakeFirst();
    if (!run) throw new NotFoundError("FLOW_RUN_NOT_FOUND", `no flow run with id ${id}`, { id });
    // Six beats per timeout: a few lost on the way are not a death.
    const intervalMs = Math.min(10_000, Math.max(200, Math.round(this.lazarus.heartbeatTimeoutMs / 6)));
    return { state: run.state, superseded: Number(result.numUpdatedRows) === 0, intervalMs };
  }

  // ── agents ───────────────────────────────────────────────────────────────

  async registerAgent(input: {
    id?: string | null;
    name: string;
    type: string;
    labels?: readonly string[] | null;
    acceptUnlabeled?: boolean | null;
    /** The API key it registers with; kept from its first registration. */
    keyId?: string | undefined;
  }): Promise<Row<"agent">> {
    const now = this.now();
    const id = input.id ?? newId();
    const values = encodeRow("agent", this.dialect, {
      id,
      name: input.name,
      type: input.type,
      labels: [...new Set(input.labels ?? [])].sort(),
      accept_unlabeled: input.acceptUnlabeled ?? false,
      last_seen: now,
      created: now,
      key_id: input.keyId ?? null,
    });
    await this.db
      .insertInto("agent")
      .values(values as never)
      .onConflict((oc) =>
        oc.column("id").doUpdateSet({
          name: values.name,
          type: values.type,
          labels: values.labels,
          accept_unlabeled: values.accept_unlabeled,
          last_seen: values.last_seen,
        } as never),
      )
      .execute();
    return this.agentById(id);
  }

  async agentById(id: string): Promise<Row<"agent">> {
    const row = await this.db.selectFrom("agent").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError("AGENT_NOT_FOUND", `no agent with id ${id}; register it first`, { id });
    return decodeRow("agent", row);
  }

  async agentHeartbeat(id: string): Promise<Row<"agent">> {
    const result = await this.db
      .updateTable("agent")
      .set(encodeRow("agent", this.dialect, { last_seen: this.now() }) as never)
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0)
      throw new NotFoundError("AGENT_NOT_FOUND", `no agent with id ${id}; register it first`, { id });
    return this.agentById(id);
  }

  /**
   * Claims up to `limit` Scheduled runs that are due and whose labels the agent carries, marking them
   * Submitted to that agent. Atomic: PostgreSQL locks candidates with SKIP LOCKED, so concurrent agents
   * never take the same run; SQLite serialises writers.
   */
  async claimFlowRuns(agentId: string, limit: number): Promise<Row<"flow_run">[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new InvalidUsageError("limit must be a whole number from 1 to 1000");
    const agent = await this.agentHeartbeat(agentId);
    const agentLabels = agent.labels as string[];
    const now = this.now();
    const due = encodeRow("flow_run", this.dialect, { scheduled_start_time: now })
      .scheduled_start_time as string;
    const events: StateEvent[] = [];
    const claimed = await this.db.transaction().execute(async (tx) => {
      const labelLimits = await limitsOf(tx, "label");
      // Candidates are read without locks and matched on labels here; only the runs this agent will take
      // are then locked (SKIP LOCKED), so concurrent agents pass each other instead of queueing. Queued
      // runs (waiting on a concurrency limit) are candidates again, first come first served.
      // With each candidate, what its flow's own limit needs (one query: the join rides the primary key).
      const candidates = await tx
        .selectFrom("flow_run")
        .innerJoin("flow", "flow.id", "flow_run.flow_id")
        .select(GATE_COLUMNS)
        .where("flow_run.state", "in", ["Scheduled", "Queued"])
        .where("flow_run.scheduled_start_time", "<=", due)
        .orderBy("flow_run.scheduled_start_time")
        .orderBy("flow_run.id")
        .limit(labelLimits.size > 0 ? 1_000 : Math.max(limit * 8, 64))
        .execute();
      let gate = candidates.map(runAtGate).filter((c) =>
        agentCanTakeRun({
          runLabels: c.labels,
          agentLabels,
          acceptUnlabeled: agent.accept_unlabeled === true,
        }),
      );
      if (gate.length === 0) return [];
      let take = gate.map((c) => c.id);
      if (labelLimits.size > 0 || gate.some((r) => r.concurrency)) {
        // Limits apply: claims judge them one at a time, so two agents never take the last free slot.
        // Candidates another claim took while this one waited for the lock are dropped.
        await lockLimits(tx, this.dialect, "claims");
        const still = await tx
          .selectFrom("flow_run")
          .select(["id", "state", "state_message", "state_version"])
          .where("id", "in", take)
          .where("state", "in", ["Scheduled", "Queued"])
          .execute();
        const fresh = new Map(still.map((r) => [r.id, r]));
        gate = gate.filter((r) => fresh.has(r.id));
        const decision = gateRuns(gate, await runsHoldingSlots(tx), labelLimits, limit);
        take = [...decision.admitted];
        for (const c of still) {
          const reason = decision.waiting.get(c.id);
          if (!reason || (c.state === "Queued" && c.state_message === reason)) continue;
          await this.applyState(
            tx,
            "flow_run",
            { runId: c.id, version: c.state_version, state: { type: "Queued", message: reason } },
            {},
            events,
          );
        }
        if (take.length === 0) return [];
      }
      let lock = tx
        .selectFrom("flow_run")
        .select(["id", "state_version"])
        .where("id", "in", take)
        .where("state", "in", ["Scheduled", "Queued"])
        .orderBy("scheduled_start_time")
        .orderBy("id")
        .limit(limit);
      if (this.dialect === "postgres") lock = lock.forUpdate().skipLocked();
      const picked = await lock.execute();
      const taken: string[] = [];
      for (const run of picked) {
        const result = await this.applyState(
          tx,
          "flow_run",
          {
            runId: run.id,
            version: run.state_version,
            state: { type: "Submitted", message: `claimed by agent ${agent.name}`, data: { agentId } },
          },
          {},
          events,
        );
        if (result.status !== "SUCCESS") continue;
        await tx
          .updateTable("flow_run")
          .set({ agent_id: agentId } as never)
          .where("id", "=", run.id)
          .execute();
        taken.push(run.id);
      }
      return taken;
    });
    this.publishStates(events);
    if (claimed.length === 0) return [];
    const rows = await this.db.selectFrom("flow_run").selectAll().where("id", "in", claimed).execute();
    return rows.map((r) => decodeRow("flow_run", r));
  }
}
