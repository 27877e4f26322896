-- The schema of a freshly migrated Regent database on PostgreSQL (migrations up to 0015-task-queue).
-- Written by packages/server/test/schema-drift.test.ts, which fails when a migrated database differs;
-- do not edit. Regenerate after adding a migration (see MIGRATIONS.md):
--   UPDATE_SCHEMA_DUMPS=1 npx vitest run packages/server/test/schema-drift.test.ts
CREATE TABLE agent (
  id uuid NOT NULL,
  name text NOT NULL,
  type text NOT NULL,
  labels jsonb NOT NULL,
  accept_unlabeled boolean DEFAULT false NOT NULL,
  last_seen timestamp with time zone NOT NULL,
  created timestamp with time zone NOT NULL,
  key_id uuid
);
ALTER TABLE agent ADD CONSTRAINT agent_pkey PRIMARY KEY (id);

CREATE TABLE api_key (
  id uuid NOT NULL,
  name text NOT NULL,
  scope text NOT NULL,
  key_hash text NOT NULL,
  prefix text NOT NULL,
  created timestamp with time zone NOT NULL,
  created_by uuid,
  expires timestamp with time zone,
  revoked timestamp with time zone,
  last_used timestamp with time zone
);
ALTER TABLE api_key ADD CONSTRAINT api_key_key_hash_key UNIQUE (key_hash);
ALTER TABLE api_key ADD CONSTRAINT api_key_name_key UNIQUE (name);
ALTER TABLE api_key ADD CONSTRAINT api_key_pkey PRIMARY KEY (id);

CREATE TABLE concurrency_limit (
  id uuid NOT NULL,
  kind text NOT NULL,
  name text NOT NULL,
  slots integer NOT NULL,
  created timestamp with time zone NOT NULL,
  updated timestamp with time zone NOT NULL
);
ALTER TABLE concurrency_limit ADD CONSTRAINT concurrency_limit_kind_name UNIQUE (kind, name);
ALTER TABLE concurrency_limit ADD CONSTRAINT concurrency_limit_pkey PRIMARY KEY (id);

CREATE TABLE flow (
  id uuid NOT NULL,
  version_group_id uuid NOT NULL,
  project_id uuid NOT NULL,
  name text NOT NULL,
  version integer NOT NULL,
  archived boolean DEFAULT false NOT NULL,
  description text,
  parameters_schema jsonb,
  run_config jsonb,
  labels jsonb NOT NULL,
  storage jsonb,
  schedule jsonb,
  schedule_active boolean DEFAULT true NOT NULL,
  content_hash text NOT NULL,
  created timestamp with time zone NOT NULL,
  updated timestamp with time zone NOT NULL,
  schedule_through timestamp with time zone,
  schedule_due timestamp with time zone,
  concurrency jsonb,
  max_restarts integer
);
ALTER TABLE flow ADD CONSTRAINT flow_pkey PRIMARY KEY (id);
ALTER TABLE flow ADD CONSTRAINT flow_project_id_fkey FOREIGN KEY (project_id) REFERENCES project(id) ON DELETE CASCADE;
ALTER TABLE flow ADD CONSTRAINT flow_version_unique UNIQUE (version_group_id, version);
CREATE INDEX flow_project_name ON public.flow USING btree (project_id, name);
CREATE INDEX flow_schedule_due ON public.flow USING btree (schedule_due);

CREATE TABLE flow_bundle (
  hash text NOT NULL,
  code text NOT NULL,
  size integer NOT NULL,
  created timestamp with time zone NOT NULL
);
ALTER TABLE flow_bundle ADD CONSTRAINT flow_bundle_pkey PRIMARY KEY (hash);

CREATE TABLE flow_run (
  id uuid NOT NULL,
  flow_id uuid NOT NULL,
  name text NOT NULL,
  parameters jsonb NOT NULL,
  context jsonb NOT NULL,
  labels jsonb NOT NULL,
  run_config jsonb,
  scheduled_start_time timestamp with time zone NOT NULL,
  state text NOT NULL,
  state_message text,
  state_version integer NOT NULL,
  state_timestamp timestamp with time zone NOT NULL,
  start_time timestamp with time zone,
  end_time timestamp with time zone,
  idempotency_key text,
  agent_id uuid,
  heartbeat timestamp with time zone,
  restart_count integer DEFAULT 0 NOT NULL,
  created timestamp with time zone NOT NULL,
  updated timestamp with time zone NOT NULL,
  auto_scheduled boolean DEFAULT false NOT NULL,
  late_reason text,
  parent_flow_run_id uuid,
  lazarus_count integer DEFAULT 0 NOT NULL,
  timeout_ms integer
);
ALTER TABLE flow_run ADD CONSTRAINT flow_run_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES flow(id) ON DELETE CASCADE;
ALTER TABLE flow_run ADD CONSTRAINT flow_run_parent_flow_run_id_fkey FOREIGN KEY (parent_flow_run_id) REFERENCES flow_run(id) ON DELETE SET NULL;
ALTER TABLE flow_run ADD CONSTRAINT flow_run_pkey PRIMARY KEY (id);
CREATE INDEX flow_run_claimable ON public.flow_run USING btree (state, scheduled_start_time);
CREATE INDEX flow_run_flow_scheduled ON public.flow_run USING btree (flow_id, scheduled_start_time);
CREATE UNIQUE INDEX flow_run_idempotency ON public.flow_run USING btree (flow_id, idempotency_key) WHERE (idempotency_key IS NOT NULL);
CREATE INDEX flow_run_parent ON public.flow_run USING btree (parent_flow_run_id);

CREATE TABLE flow_run_state (
  id uuid NOT NULL,
  flow_run_id uuid NOT NULL,
  state text NOT NULL,
  message text,
  "timestamp" timestamp with time zone NOT NULL,
  data jsonb,
  version integer NOT NULL
);
ALTER TABLE flow_run_state ADD CONSTRAINT flow_run_state_flow_run_id_fkey FOREIGN KEY (flow_run_id) REFERENCES flow_run(id) ON DELETE CASCADE;
ALTER TABLE flow_run_state ADD CONSTRAINT flow_run_state_pkey PRIMARY KEY (id);
CREATE INDEX flow_run_state_owner ON public.flow_run_state USING btree (flow_run_id, version);

CREATE TABLE kysely_migration (
  name character varying(255) NOT NULL,
  "timestamp" character varying(255) NOT NULL
);
ALTER TABLE kysely_migration ADD CONSTRAINT kysely_migration_pkey PRIMARY KEY (name);

CREATE TABLE kysely_migration_lock (
  id character varying(255) NOT NULL,
  is_locked integer DEFAULT 0 NOT NULL
);
ALTER TABLE kysely_migration_lock ADD CONSTRAINT kysely_migration_lock_pkey PRIMARY KEY (id);

CREATE TABLE log (
  seq bigint DEFAULT nextval('log_seq_seq'::regclass) NOT NULL,
  id uuid NOT NULL,
  flow_run_id uuid NOT NULL,
  task_run_id uuid,
  level text NOT NULL,
  message text NOT NULL,
  "timestamp" timestamp with time zone NOT NULL
);
ALTER TABLE log ADD CONSTRAINT log_flow_run_id_fkey FOREIGN KEY (flow_run_id) REFERENCES flow_run(id) ON DELETE CASCADE;
ALTER TABLE log ADD CONSTRAINT log_id_key UNIQUE (id);
ALTER TABLE log ADD CONSTRAINT log_pkey PRIMARY KEY (seq);
CREATE INDEX log_flow_run ON public.log USING btree (flow_run_id, seq);

CREATE TABLE notification (
  id uuid NOT NULL,
  rule_id uuid NOT NULL,
  flow_run_id uuid NOT NULL,
  state text NOT NULL,
  state_version integer NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL,
  attempts integer DEFAULT 0 NOT NULL,
  next_attempt timestamp with time zone NOT NULL,
  last_error text,
  created timestamp with time zone NOT NULL,
  sent timestamp with time zone
);
ALTER TABLE notification ADD CONSTRAINT notification_flow_run_id_fkey FOREIGN KEY (flow_run_id) REFERENCES flow_run(id) ON DELETE CASCADE;
ALTER TABLE notification ADD CONSTRAINT notification_once UNIQUE (rule_id, flow_run_id, state_version);
ALTER TABLE notification ADD CONSTRAINT notification_pkey PRIMARY KEY (id);
ALTER TABLE notification ADD CONSTRAINT notification_rule_id_fkey FOREIGN KEY (rule_id) REFERENCES notification_rule(id) ON DELETE CASCADE;
CREATE INDEX notification_due ON public.notification USING btree (status, next_attempt);
CREATE INDEX notification_flow_run ON public.notification USING btree (flow_run_id);

CREATE TABLE notification_rule (
  id uuid NOT NULL,
  name text NOT NULL,
  project_id uuid,
  flow_group_id uuid,
  states jsonb NOT NULL,
  kind text NOT NULL,
  target text NOT NULL,
  active boolean DEFAULT true NOT NULL,
  created timestamp with time zone NOT NULL
);
ALTER TABLE notification_rule ADD CONSTRAINT notification_rule_name_key UNIQUE (name);
ALTER TABLE notification_rule ADD CONSTRAINT notification_rule_pkey PRIMARY KEY (id);
ALTER TABLE notification_rule ADD CONSTRAINT notification_rule_project_id_fkey FOREIGN KEY (project_id) REFERENCES project(id) ON DELETE CASCADE;

CREATE TABLE notification_secret (
  rule_id uuid NOT NULL,
  secret text NOT NULL
);
ALTER TABLE notification_secret ADD CONSTRAINT notification_secret_pkey PRIMARY KEY (rule_id);
ALTER TABLE notification_secret ADD CONSTRAINT notification_secret_rule_id_fkey FOREIGN KEY (rule_id) REFERENCES notification_rule(id) ON DELETE CASCADE;

CREATE TABLE project (
  id uuid NOT NULL,
  name text NOT NULL,
  description text,
  created timestamp with time zone NOT NULL,
  updated timestamp with time zone NOT NULL
);
ALTER TABLE project ADD CONSTRAINT project_name_key UNIQUE (name);
ALTER TABLE project ADD CONSTRAINT project_pkey PRIMARY KEY (id);

CREATE TABLE secret (
  name text NOT NULL,
  value text NOT NULL,
  created timestamp with time zone NOT NULL,
  updated timestamp with time zone NOT NULL
);
ALTER TABLE secret ADD CONSTRAINT secret_pkey PRIMARY KEY (name);

CREATE TABLE server_key (
  name text NOT NULL,
  value text NOT NULL,
  created timestamp with time zone NOT NULL
);
ALTER TABLE server_key ADD CONSTRAINT server_key_pkey PRIMARY KEY (name);

CREATE TABLE task_queue (
  id uuid NOT NULL,
  flow_run_id uuid NOT NULL,
  task_run_id uuid NOT NULL,
  attempt integer NOT NULL,
  task_name text NOT NULL,
  task_ordinal integer NOT NULL,
  input text NOT NULL,
  status text DEFAULT 'queued'::text NOT NULL,
  worker_id text,
  deliveries integer DEFAULT 0 NOT NULL,
  heartbeat timestamp with time zone,
  result text,
  created timestamp with time zone NOT NULL,
  finished timestamp with time zone
);
ALTER TABLE task_queue ADD CONSTRAINT task_queue_flow_run_id_fkey FOREIGN KEY (flow_run_id) REFERENCES flow_run(id) ON DELETE CASCADE;
ALTER TABLE task_queue ADD CONSTRAINT task_queue_pkey PRIMARY KEY (id);
CREATE INDEX task_queue_run_status ON public.task_queue USING btree (flow_run_id, status, id);

CREATE TABLE task_run (
  id uuid NOT NULL,
  flow_run_id uuid NOT NULL,
  task_key text NOT NULL,
  task_name text NOT NULL,
  map_index integer NOT NULL,
  parent_task_run_id uuid,
  upstream jsonb NOT NULL,
  tags jsonb NOT NULL,
  state text NOT NULL,
  state_message text,
  state_version integer NOT NULL,
  state_timestamp timestamp with time zone NOT NULL,
  attempts integer DEFAULT 0 NOT NULL,
  cache_key text,
  result_ref text,
  start_time timestamp with time zone,
  end_time timestamp with time zone,
  created timestamp with time zone NOT NULL,
  updated timestamp with time zone NOT NULL,
  run_key text,
  result jsonb
);
ALTER TABLE task_run ADD CONSTRAINT task_run_flow_run_id_fkey FOREIGN KEY (flow_run_id) REFERENCES flow_run(id) ON DELETE CASCADE;
ALTER TABLE task_run ADD CONSTRAINT task_run_pkey PRIMARY KEY (id);
CREATE INDEX task_run_flow_run ON public.task_run USING btree (flow_run_id);
CREATE INDEX task_run_started ON public.task_run USING btree (flow_run_id) WHERE (state = ANY (ARRAY['Queued'::text, 'Running'::text, 'Retrying'::text, 'Paused'::text]));

CREATE TABLE task_run_state (
  id uuid NOT NULL,
  task_run_id uuid NOT NULL,
  flow_run_id uuid NOT NULL,
  state text NOT NULL,
  message text,
  "timestamp" timestamp with time zone NOT NULL,
  data jsonb,
  version integer NOT NULL
);
ALTER TABLE task_run_state ADD CONSTRAINT task_run_state_flow_run_id_fkey FOREIGN KEY (flow_run_id) REFERENCES flow_run(id) ON DELETE CASCADE;
ALTER TABLE task_run_state ADD CONSTRAINT task_run_state_pkey PRIMARY KEY (id);
ALTER TABLE task_run_state ADD CONSTRAINT task_run_state_task_run_id_fkey FOREIGN KEY (task_run_id) REFERENCES task_run(id) ON DELETE CASCADE;
CREATE INDEX task_run_state_owner ON public.task_run_state USING btree (task_run_id, version);

CREATE TABLE task_slot (
  task_run_id uuid NOT NULL,
  tag text NOT NULL,
  flow_run_id uuid NOT NULL,
  acquired timestamp with time zone NOT NULL
);
ALTER TABLE task_slot ADD CONSTRAINT task_slot_flow_run_id_fkey FOREIGN KEY (flow_run_id) REFERENCES flow_run(id) ON DELETE CASCADE;
ALTER TABLE task_slot ADD CONSTRAINT task_slot_pkey PRIMARY KEY (task_run_id, tag);
CREATE INDEX task_slot_flow_run ON public.task_slot USING btree (flow_run_id);
CREATE INDEX task_slot_tag ON public.task_slot USING btree (tag);

CREATE SEQUENCE log_seq_seq AS bigint OWNED BY log.seq;
