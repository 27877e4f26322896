-- The schema of a freshly migrated Regent database on SQLite (migrations up to 0015-task-queue).
-- Written by packages/server/test/schema-drift.test.ts, which fails when a migrated database differs;
-- do not edit. Regenerate after adding a migration (see MIGRATIONS.md):
--   UPDATE_SCHEMA_DUMPS=1 npx vitest run packages/server/test/schema-drift.test.ts
CREATE TABLE "agent" (
  "id" text primary key,
  "name" text not null,
  "type" text not null,
  "labels" text not null,
  "accept_unlabeled" integer default 0 not null,
  "last_seen" text not null,
  "created" text not null,
  "key_id" text
);

CREATE TABLE "api_key" (
  "id" text primary key,
  "name" text not null unique,
  "scope" text not null,
  "key_hash" text not null unique,
  "prefix" text not null,
  "created" text not null,
  "created_by" text,
  "expires" text,
  "revoked" text,
  "last_used" text
);

CREATE TABLE "concurrency_limit" (
  "id" text primary key,
  "kind" text not null,
  "name" text not null,
  "slots" integer not null,
  "created" text not null,
  "updated" text not null,
  constraint "concurrency_limit_kind_name" unique ("kind", "name")
);

CREATE TABLE "flow" (
  "id" text primary key,
  "version_group_id" text not null,
  "project_id" text not null references "project" ("id") on delete cascade,
  "name" text not null,
  "version" integer not null,
  "archived" integer default 0 not null,
  "description" text,
  "parameters_schema" text,
  "run_config" text,
  "labels" text not null,
  "storage" text,
  "schedule" text,
  "schedule_active" integer default 1 not null,
  "content_hash" text not null,
  "created" text not null,
  "updated" text not null,
  "schedule_through" text,
  "schedule_due" text,
  "concurrency" text,
  "max_restarts" integer,
  constraint "flow_version_unique" unique ("version_group_id", "version")
);

CREATE TABLE "flow_bundle" (
  "hash" text primary key,
  "code" text not null,
  "size" integer not null,
  "created" text not null
);

CREATE TABLE "flow_run" (
  "id" text primary key,
  "flow_id" text not null references "flow" ("id") on delete cascade,
  "name" text not null,
  "parameters" text not null,
  "context" text not null,
  "labels" text not null,
  "run_config" text,
  "scheduled_start_time" text not null,
  "state" text not null,
  "state_message" text,
  "state_version" integer not null,
  "state_timestamp" text not null,
  "start_time" text,
  "end_time" text,
  "idempotency_key" text,
  "agent_id" text,
  "heartbeat" text,
  "restart_count" integer default 0 not null,
  "created" text not null,
  "updated" text not null,
  "auto_scheduled" integer default 0 not null,
  "late_reason" text,
  "parent_flow_run_id" text references "flow_run" ("id") on delete set null,
  "lazarus_count" integer default 0 not null,
  "timeout_ms" integer
);

CREATE TABLE "flow_run_state" (
  "id" text primary key,
  "flow_run_id" text not null references "flow_run" ("id") on delete cascade,
  "state" text not null,
  "message" text,
  "timestamp" text not null,
  "data" text,
  "version" integer not null
);

CREATE TABLE "kysely_migration" (
  "name" varchar(255) not null primary key,
  "timestamp" varchar(255) not null
);

CREATE TABLE "kysely_migration_lock" (
  "id" varchar(255) not null primary key,
  "is_locked" integer default 0 not null
);

CREATE TABLE "log" (
  "seq" integer primary key autoincrement,
  "id" text not null unique,
  "flow_run_id" text not null references "flow_run" ("id") on delete cascade,
  "task_run_id" text,
  "level" text not null,
  "message" text not null,
  "timestamp" text not null
);

CREATE TABLE "notification" (
  "id" text primary key,
  "rule_id" text not null references "notification_rule" ("id") on delete cascade,
  "flow_run_id" text not null references "flow_run" ("id") on delete cascade,
  "state" text not null,
  "state_version" integer not null,
  "payload" text not null,
  "status" text not null,
  "attempts" integer default 0 not null,
  "next_attempt" text not null,
  "last_error" text,
  "created" text not null,
  "sent" text,
  constraint "notification_once" unique ("rule_id", "flow_run_id", "state_version")
);

CREATE TABLE "notification_rule" (
  "id" text primary key,
  "name" text not null unique,
  "project_id" text references "project" ("id") on delete cascade,
  "flow_group_id" text,
  "states" text not null,
  "kind" text not null,
  "target" text not null,
  "active" integer default 1 not null,
  "created" text not null
);

CREATE TABLE "notification_secret" (
  "rule_id" text primary key references "notification_rule" ("id") on delete cascade,
  "secret" text not null
);

CREATE TABLE "project" (
  "id" text primary key,
  "name" text not null unique,
  "description" text,
  "created" text not null,
  "updated" text not null
);

CREATE TABLE "secret" (
  "name" text primary key,
  "value" text not null,
  "created" text not null,
  "updated" text not null
);

CREATE TABLE "server_key" (
  "name" text primary key,
  "value" text not null,
  "created" text not null
);

CREATE TABLE "task_queue" (
  "id" text primary key,
  "flow_run_id" text not null references "flow_run" ("id") on delete cascade,
  "task_run_id" text not null,
  "attempt" integer not null,
  "task_name" text not null,
  "task_ordinal" integer not null,
  "input" text not null,
  "status" text default 'queued' not null,
  "worker_id" text,
  "deliveries" integer default 0 not null,
  "heartbeat" text,
  "result" text,
  "created" text not null,
  "finished" text
);

CREATE TABLE "task_run" (
  "id" text primary key,
  "flow_run_id" text not null references "flow_run" ("id") on delete cascade,
  "task_key" text not null,
  "task_name" text not null,
  "map_index" integer not null,
  "parent_task_run_id" text,
  "upstream" text not null,
  "tags" text not null,
  "state" text not null,
  "state_message" text,
  "state_version" integer not null,
  "state_timestamp" text not null,
  "attempts" integer default 0 not null,
  "cache_key" text,
  "result_ref" text,
  "start_time" text,
  "end_time" text,
  "created" text not null,
  "updated" text not null,
  "run_key" text,
  "result" text
);

CREATE TABLE "task_run_state" (
  "id" text primary key,
  "task_run_id" text not null references "task_run" ("id") on delete cascade,
  "flow_run_id" text not null references "flow_run" ("id") on delete cascade,
  "state" text not null,
  "message" text,
  "timestamp" text not null,
  "data" text,
  "version" integer not null
);

CREATE TABLE "task_slot" (
  "task_run_id" text not null,
  "tag" text not null,
  "flow_run_id" text not null references "flow_run" ("id") on delete cascade,
  "acquired" text not null,
  constraint "task_slot_pkey" primary key ("task_run_id", "tag")
);

CREATE INDEX "flow_project_name" on "flow" ("project_id", "name");

CREATE INDEX "flow_run_claimable" on "flow_run" ("state", "scheduled_start_time");

CREATE INDEX "flow_run_flow_scheduled" on "flow_run" ("flow_id", "scheduled_start_time");

CREATE UNIQUE INDEX "flow_run_idempotency" on "flow_run" ("flow_id", "idempotency_key") where "idempotency_key" is not null;

CREATE INDEX "flow_run_parent" on "flow_run" ("parent_flow_run_id");

CREATE INDEX "flow_run_state_owner" on "flow_run_state" ("flow_run_id", "version");

CREATE INDEX "flow_schedule_due" on "flow" ("schedule_due");

CREATE INDEX "log_flow_run" on "log" ("flow_run_id", "seq");

CREATE INDEX "notification_due" on "notification" ("status", "next_attempt");

CREATE INDEX "notification_flow_run" on "notification" ("flow_run_id");

CREATE INDEX "task_queue_run_status" on "task_queue" ("flow_run_id", "status", "id");

CREATE INDEX "task_run_flow_run" on "task_run" ("flow_run_id");

CREATE INDEX "task_run_started" on "task_run" ("flow_run_id") where "state" in ('Queued', 'Running', 'Retrying', 'Paused');

CREATE INDEX "task_run_state_owner" on "task_run_state" ("task_run_id", "version");

CREATE INDEX "task_slot_flow_run" on "task_slot" ("flow_run_id");

CREATE INDEX "task_slot_tag" on "task_slot" ("tag");
