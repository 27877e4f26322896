/**
 * The columns of every table with their kind: the one description that row decoding, value encoding and
 * the Hasura-style `where` compiler share. Migrations spell their DDL out on their own (they are history);
 * a test checks the migrated database against this description.
 */
export type ColumnKind = "uuid" | "text" | "int" | "bool" | "timestamp" | "json";

export const TABLES = {
  project: {
    id: "uuid",
    name: "text",
    description: "text",
    created: "timestamp",
    updated: "timestamp",
  },
  flow: {
    id: "uuid",
    version_group_id: "uuid",
    project_id: "uuid",
    name: "text",
    version: "int",
    archived: "bool",
    description: "text",
    parameters_schema: "json",
    run_config: "json",
    labels: "json",
    storage: "json",
    schedule: "json",
    schedule_active: "bool",
    schedule_through: "timestamp",
    schedule_due: "timestamp",
    concurrency: "json",
    max_restarts: "int",
    content_hash: "text",
    created: "timestamp",
    updated: "timestamp",
  },
  flow_run: {
    id: "uuid",
    flow_id: "uuid",
    name: "text",
    parameters: "json",
    context: "json",
    labels: "json",
    run_config: "json",
    scheduled_start_time: "timestamp",
    state: "text",
    state_message: "text",
    state_version: "int",
    state_timestamp: "timestamp",
    start_time: "timestamp",
    end_time: "timestamp",
    idempotency_key: "text",
    agent_id: "uuid",
    heartbeat: "timestamp",
    restart_count: "int",
    lazarus_count: "int",
    timeout_ms: "int",
    auto_scheduled: "bool",
    late_reason: "text",
    parent_flow_run_id: "uuid",
    created: "timestamp",
    updated: "timestamp",
  },
  task_run: {
    id: "uuid",
    flow_run_id: "uuid",
    task_key: "text",
    task_name: "text",
    map_index: "int",
    parent_task_run_id: "uuid",
    upstream: "json",
    tags: "json",
    state: "text",
    state_message: "text",
    state_version: "int",
    state_timestamp: "timestamp",
    attempts: "int",
    cache_key: "text",
    result_ref: "text",
    run_key: "text",
    result: "json",
    start_time: "timestamp",
    end_time: "timestamp",
    created: "timestamp",
    updated: "timestamp",
  },
  flow_run_state: {
    id: "uuid",
    flow_run_id: "uuid",
    state: "text",
    message: "text",
    timestamp: "timestamp",
    data: "json",
    version: "int",
  },
  task_run_state: {
    id: "uuid",
    task_run_id: "uuid",
    flow_run_id: "uuid",
    state: "text",
    message: "text",
    timestamp: "timestamp",
    data: "json",
    version: "int",
  },
  log: {
    id: "uuid",
    flow_run_id: "uuid",
    task_run_id: "uuid",
    level: "text",
    message: "text",
    timestamp: "timestamp",
    seq: "int",
  },
  flow_bundle: {
    hash: "text",
    code: "text",
    size: "int",
    created: "timestamp",
  },
  agent: {
    id: "uuid",
    name: "text",
    type: "text",
    labels: "json",
    accept_unlabeled: "bool",
    last_seen: "timestamp",
    created: "timestamp",
    key_id: "uuid",
  },
  concurrency_limit: {
    id: "uuid",
    kind: "text",
    name: "text",
    slots: "int",
    created: "timestamp",
    updated: "timestamp",
  },
  task_slot: {
    task_run_id: "uuid",
    tag: "text",
    flow_run_id: "uuid",
    acquired: "timestamp",
  },
  notification_rule: {
    id: "uuid",
    name: "text",
    project_id: "uuid",
    flow_group_id: "uuid",
    states: "json",
    kind: "text",
    target: "text",
    active: "bool",
    created: "timestamp",
  },
  notification_secret: {
    rule_id: "uuid",
    secret: "text",
  },
  notification: {
    id: "uuid",
    rule_id: "uuid",
    flow_run_id: "uuid",
    state: "text",
    state_version: "int",
    payload: "json",
    status: "text",
    attempts: "int",
    next_attempt: "timestamp",
    last_error: "text",
    created: "timestamp",
    sent: "timestamp",
  },
  api_key: {
    id: "uuid",
    name: "text",
    scope: "text",
    key_hash: "text",
    prefix: "text",
    created: "timestamp",
    created_by: "uuid",
    expires: "timestamp",
    revoked: "timestamp",
    last_used: "timestamp",
  },
  server_key: {
    name: "text",
    value: "text",
    created: "timestamp",
  },
  secret: {
    name: "text",
    value: "text",
    created: "timestamp",
    updated: "timestamp",
  },
  task_queue: {
    id: "uuid",
    flow_run_id: "uuid",
    task_run_id: "uuid",
    attempt: "int",
    task_name: "text",
    task_ordinal: "int",
    input: "text",
    status: "text",
    worker_id: "text",
    deliveries: "int",
    heartbeat: "timestamp",
    result: "text",
    created: "timestamp",
    finished: "timestamp",
  },
} as const satisfies Record<string, Record<string, ColumnKind>>;

export type TableName = keyof typeof TABLES;

type JsOf<K extends ColumnKind> = K extends "int"
  ? number
  : K extends "bool"
    ? boolean
    : K extends "json"
      ? unknown
      : string;

/** A decoded row: timestamps as ISO 8601 strings, JSON parsed, booleans as booleans; nullable columns null. */
export type Row<T extends TableName> = {
  [C in keyof (typeof TABLES)[T]]: JsOf<(typeof TABLES)[T][C] & ColumnKind> | null;
};

export interface Relation {
  readonly table: TableName;
  /** Column of this table … */
  readonly from: string;
  /** … equal to this column of the related table. */
  readonly to: string;
  /** `object`: at most one related row; `array`: any number. */
  readonly kind: "object" | "array";
}

/** Relations between tables, named as the GraphQL fields and `where` keys that follow them. */
export const RELATIONS: Record<TableName, Record<string, Relation>> = {
  project: { flows: { table: "flow", from: "id", to: "project_id", kind: "array" } },
  flow: {
    project: { table: "project", from: "project_id", to: "id", kind: "object" },
    flow_runs: { table: "flow_run", from: "id", to: "flow_id", kind: "array" },
  },
  flow_run: {
    flow: { table: "flow", from: "flow_id", to: "id", kind: "object" },
    agent: { table: "agent", from: "agent_id", to: "id", kind: "object" },
    task_runs: { table: "task_run", from: "id", to: "flow_run_id", kind: "array" },
    states: { table: "flow_run_state", from: "id", to: "flow_run_id", kind: "array" },
    logs: { table: "log", from: "id", to: "flow_run_id", kind: "array" },
    notifications: { table: "notification", from: "id", to: "flow_run_id", kind: "array" },
    parent: { table: "flow_run", from: "parent_flow_run_id", to: "id", kind: "object" },
    children: { table: "flow_run", from: "id", to: "parent_flow_run_id", kind: "array" },
  },
  task_run: {
    flow_run: { table: "flow_run", from: "flow_run_id", to: "id", kind: "object" },
    states: { table: "task_run_state", from: "id", to: "task_run_id", kind: "array" },
    logs: { table: "log", from: "id", to: "task_run_id", kind: "array" },
  },
  flow_run_state: { flow_run: { table: "flow_run", from: "flow_run_id", to: "id", kind: "object" } },
  task_run_state: { task_run: { table: "task_run", from: "task_run_id", to: "id", kind: "object" } },
  log: {
    flow_run: { table: "flow_run", from: "flow_run_id", to: "id", kind: "object" },
    task_run: { table: "task_run", from: "task_run_id", to: "id", kind: "object" },
  },
  agent: { flow_runs: { table: "flow_run", from: "id", to: "agent_id", kind: "array" } },
  flow_bundle: {},
  concurrency_limit: {},
  task_slot: { flow_run: { table: "flow_run", from: "flow_run_id", to: "id", kind: "object" } },
  notification_rule: {
    project: { table: "project", from: "project_id", to: "id", kind: "object" },
    notifications: { table: "notification", from: "id", to: "rule_id", kind: "array" },
  },
  notification_secret: {},
  notification: {
    rule: { table: "notification_rule", from: "rule_id", to: "id", kind: "object" },
    flow_run: { table: "flow_run", from: "flow_run_id", to: "id", kind: "object" },
  },
  api_key: {},
  server_key: {},
  secret: {},
  task_queue: { flow_run: { table: "flow_run", from: "flow_run_id", to: "id", kind: "object" } },
};
