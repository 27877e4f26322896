import type { ColumnType, Generated, Kysely } from "kysely";

/**
 * Raw column types as the drivers hand them over. Timestamps are `timestamptz` on PostgreSQL (read as
 * Date) and ISO 8601 text on SQLite; JSON is `jsonb` (read parsed) or text; booleans are `boolean` or 0/1.
 * The store decodes rows through `codec.ts`, so nothing above it sees the difference.
 */
type Ts = ColumnType<Date | string, string, string>;
type TsNull = ColumnType<Date | string | null, string | null, string | null>;
type Json = ColumnType<unknown, string, string>;
type JsonNull = ColumnType<unknown, string | null, string | null>;
type Bool = ColumnType<boolean | number, boolean | number, boolean | number>;
type Text = string;
type TextNull = string | null;

export interface ProjectTable {
  id: string;
  name: Text;
  description: TextNull;
  created: Ts;
  updated: Ts;
}

export interface FlowTable {
  id: string;
  version_group_id: string;
  project_id: string;
  name: Text;
  version: number;
  archived: Bool;
  description: TextNull;
  parameters_schema: JsonNull;
  run_config: JsonNull;
  labels: Json;
  storage: JsonNull;
  schedule: JsonNull;
  schedule_active: Bool;
  /** The latest fire time the scheduler created a run for. */
  schedule_through: TsNull;
  /** When the scheduler plans this flow's schedule next; null when it does not (inactive, archived, ended). */
  schedule_due: TsNull;
  /** The flow's own concurrency limit `{ limit, key? }`. */
  concurrency: JsonNull;
  /** Lazarus restarts allowed to a run of this flow when its infrastructure dies (null: the server's default). */
  max_restarts: number | null;
  content_hash: Text;
  created: Ts;
  updated: Ts;
}

export interface FlowRunTable {
  id: string;
  flow_id: string;
  name: Text;
  parameters: Json;
  context: Json;
  labels: Json;
  run_config: JsonNull;
  scheduled_start_time: Ts;
  state: Text;
  state_message: TextNull;
  state_version: number;
  state_timestamp: Ts;
  start_time: TsNull;
  end_time: TsNull;
  idempotency_key: TextNull;
  agent_id: string | null;
  heartbeat: TsNull;
  restart_count: number;
  /** Restarts Lazarus made (infrastructure gone), counted against the flow's `max_restarts`. */
  lazarus_count: Generated<number>;
  /** This run's maximum duration (ms), over its flow's `timeout`; null: the flow's. */
  timeout_ms: number | null;
  /** Created by the scheduler (removed again when its schedule is turned off). */
  auto_scheduled: ColumnType<boolean | number, boolean | number | undefined, boolean | number>;
  /** Why the run is late: set while it waits past its start time unclaimed (no live agent matches, …). */
  late_reason: TextNull;
  /** The flow run that started this one (flows of flows). */
  parent_flow_run_id: string | null;
  created: Ts;
  updated: Ts;
}

export interface TaskRunTable {
  id: string;
  flow_run_id: string;
  task_key: Text;
  task_name: Text;
  map_index: number;
  parent_task_run_id: string | null;
  upstream: Json;
  tags: Json;
  state: Text;
  state_message: TextNull;
  state_version: number;
  state_timestamp: Ts;
  attempts: number;
  cache_key: TextNull;
  result_ref: TextNull;
  /** The task run's place in its flow run: `<task key>#<n>` for the n-th call, `<parent's key>[i]` for a mapped child. */
  run_key: TextNull;
  /** `{ value }` (or `{}` when the task returned nothing) when its result was kept in the database. */
  result: JsonNull;
  start_time: TsNull;
  end_time: TsNull;
  created: Ts;
  updated: Ts;
}

export interface FlowRunStateTable {
  id: string;
  flow_run_id: string;
  state: Text;
  message: TextNull;
  timestamp: Ts;
  data: JsonNull;
  version: number;
}

export interface TaskRunStateTable {
  id: string;
  task_run_id: string;
  flow_run_id: string;
  state: Text;
  message: TextNull;
  timestamp: Ts;
  data: JsonNull;
  version: number;
}

export interface LogTable {
  id: string;
  flow_run_id: string;
  task_run_id: string | null;
  level: Text;
  message: Text;
  timestamp: Ts;
  /** Insertion order, for stable reading of lines with the same timestamp. */
  seq: Generated<number>;
}

export interface AgentTable {
  id: string;
  name: Text;
  type: Text;
  labels: Json;
  accept_unlabeled: Bool;
  last_seen: Ts;
  created: Ts;
  /** The API key it registered with (null: none, on a server without keys). */
  key_id: string | null;
}

export interface FlowBundleTable {
  hash: string;
  code: string;
  size: number;
  created: Ts;
}

export interface ConcurrencyLimitTable {
  id: string;
  /** `label` (flow runs) or `tag` (task runs). */
  kind: Text;
  name: Text;
  slots: number;
  created: Ts;
  updated: Ts;
}

export interface TaskSlotTable {
  task_run_id: string;
  tag: Text;
  flow_run_id: string;
  acquired: Ts;
}

export interface NotificationRuleTable {
  id: string;
  name: Text;
  project_id: string | null;
  flow_group_id: string | null;
  states: Json;
  /** `webhook`, `slack` or `email`. */
  kind: Text;
  target: Text;
  active: Bool;
  created: Ts;
}

export interface NotificationSecretTable {
  rule_id: string;
  secret: Text;
}

export interface NotificationTable {
  id: string;
  rule_id: string;
  flow_run_id: string;
  state: Text;
  state_version: number;
  payload: Json;
  /** `pending`, `sent` or `failed`. */
  status: Text;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt: Ts;
  last_error: TextNull;
  created: Ts;
  sent: TsNull;
}

export interface ApiKeyTable {
  id: string;
  name: Text;
  /** `admin`, `user` or `runner`. */
  scope: Text;
  /** SHA-256 of the key, hex. */
  key_hash: Text;
  /** The key's first characters, to tell keys apart in lists. */
  prefix: Text;
  created: Ts;
  created_by: string | null;
  expires: TsNull;
  revoked: TsNull;
  last_used: TsNull;
}

/** A secret for flows: `value` is `v1.<iv>.<tag>.<ciphertext>` (AES-256-GCM, base64url), never plain. */
export interface SecretTable {
  name: Text;
  value: Text;
  created: Ts;
  updated: Ts;
}

/** Keys the server makes for itself (`run_token`: signs runs' tokens), base64url. */
export interface ServerKeyTable {
  name: Text;
  value: Text;
  created: Ts;
}

/**
 * A job of a flow run's task queue (the cluster task runner): one execution of a task run, claimed by
 * the run's workers. `input` and `result` are JSON text the server never reads.
 */
export interface TaskQueueTable {
  /** Client-generated: enqueueing a batch again inserts nothing twice. */
  id: string;
  flow_run_id: string;
  task_run_id: string;
  attempt: number;
  task_name: Text;
  task_ordinal: number;
  input: Text;
  /** `queued`, `running` (claimed by `worker_id`) or `done` (`result` set). */
  status: ColumnType<string, string | undefined, string>;
  worker_id: TextNull;
  /** Times the job was handed to a worker (more than 1: its worker's heartbeat went stale). */
  deliveries: ColumnType<number, number | undefined, number>;
  heartbeat: TsNull;
  result: TextNull;
  created: Ts;
  finished: TsNull;
}

export interface Database {
  project: ProjectTable;
  flow: FlowTable;
  flow_run: FlowRunTable;
  task_run: TaskRunTable;
  flow_run_state: FlowRunStateTable;
  task_run_state: TaskRunStateTable;
  log: LogTable;
  agent: AgentTable;
  flow_bundle: FlowBundleTable;
  concurrency_limit: ConcurrencyLimitTable;
  task_slot: TaskSlotTable;
  notification_rule: NotificationRuleTable;
  notification_secret: NotificationSecretTable;
  notification: NotificationTable;
  api_key: ApiKeyTable;
  server_key: ServerKeyTable;
  secret: SecretTable;
  task_queue: TaskQueueTable;
}

export type Dialect = "sqlite" | "postgres";

export interface RegentDatabase {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** What was opened, without any password. */
  readonly description: string;
  close(): Promise<void>;
}
