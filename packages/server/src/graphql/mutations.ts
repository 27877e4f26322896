import { RUN_STATES } from "@regent/core";
import type { SetStateItem, SetStateResult } from "../store/store.js";
import { builder } from "./builder.js";
import { objectRef } from "./reads.js";
import {
  requireChildIdempotencyKey,
  requireChildOfOwnRun,
  requireOwnAgent,
  requireOwnBundle,
  requireOwnOrChildRun,
  requireOwnRuns,
  requireOwnTaskRuns,
  requireReached,
} from "./run-scope.js";

// Mutations keep Prefect 1 Server's names and `input:` objects, and plain object results, so selections
// scripts already send (`create_flow_run(input: {...}) { id }`) stay valid.

const success = builder.objectRef<{ success: boolean; error?: string | null }>("success_payload").implement({
  fields: (t) => ({
    success: t.exposeBoolean("success"),
    error: t.exposeString("error", { nullable: true }),
  }),
});

const idPayload = <T extends string>(name: string, table: Parameters<typeof objectRef>[0], field: T) =>
  builder.objectRef<Record<string, unknown>>(name).implement({
    fields: (t) => ({
      id: t.field({ type: "uuid", resolve: (row) => row.id as string }),
      [field]: t.field({ type: objectRef(table), resolve: (row) => row }),
    }),
  });

const stateTypeEnum = builder.enumType("state_type", { values: Object.values(RUN_STATES) });

const stateInput = builder.inputType("state_input", {
  description: "A state to enter: Prefect 1's serialized state fields",
  fields: (t) => ({
    type: t.field({ type: stateTypeEnum, required: true }),
    message: t.string({ required: false }),
    data: t.field({ type: "jsonb", required: false }),
    timestamp: t.field({ type: "timestamptz", required: false }),
  }),
});

const stateResult = builder.objectRef<SetStateResult>("set_state_result").implement({
  fields: (t) => ({
    id: t.field({ type: "uuid", resolve: (r) => r.id }),
    run_id: t.field({
      type: "uuid",
      description: "the flow run or task run written",
      resolve: (r) => r.runId,
    }),
    status: t.exposeString("status", { description: "SUCCESS or ERROR" }),
    version: t.exposeInt("version", {
      nullable: true,
      description: "the run's state version after the write",
    }),
    message: t.exposeString("message", { nullable: true }),
    code: t.exposeString("code", { nullable: true, description: "error code when status is ERROR" }),
  }),
});
const refused = (results: readonly SetStateResult[]) => results.filter((r) => r.status !== "SUCCESS");
const statesPayload = builder.objectRef<{ states: SetStateResult[] }>("set_states_payload").implement({
  fields: (t) => ({
    states: t.field({ type: [stateResult], resolve: (p) => p.states }),
    refused: t.field({
      type: [stateResult],
      description: "the writes not applied (status ERROR): all a batch writer needs to read back",
      resolve: (p) => refused(p.states),
    }),
  }),
});

builder.mutationType({});

const runToken = builder.objectRef<{ flow_run_id: string; token: string }>("run_token").implement({
  fields: (f) => ({
    flow_run_id: f.field({ type: "uuid", resolve: (r) => r.flow_run_id }),
    token: f.exposeString("token"),
  }),
});

builder.mutationFields((t) => ({
  create_project: t.field({
    type: idPayload("create_project_payload", "project", "project"),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("create_project_input", {
          fields: (f) => ({ name: f.string({ required: true }), description: f.string({ required: false }) }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.store.createProject(input.name, input.description),
  }),

  delete_project: t.field({
    type: success,
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("delete_project_input", {
          fields: (f) => ({ project_id: f.field({ type: "uuid", required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => ({ success: await ctx.store.deleteProject(input.project_id) }),
  }),

  register_flow: t.field({
    type: builder
      .objectRef<{ flow: Record<string, unknown>; created: boolean }>("register_flow_payload")
      .implement({
        fields: (f) => ({
          id: f.field({ type: "uuid", resolve: (p) => p.flow.id as string }),
          version: f.int({ resolve: (p) => p.flow.version as number }),
          version_group_id: f.field({ type: "uuid", resolve: (p) => p.flow.version_group_id as string }),
          created: f.boolean({
            description: "false when the same content was registered before",
            resolve: (p) => p.created,
          }),
          flow: f.field({ type: objectRef("flow"), resolve: (p) => p.flow }),
        }),
      }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("register_flow_input", {
          fields: (f) => ({
            project_id: f.field({ type: "uuid", required: true }),
            name: f.string({ required: true }),
            description: f.string({ required: false }),
            parameters_schema: f.field({ type: "jsonb", required: false }),
            run_config: f.field({ type: "jsonb", required: false }),
            labels: f.stringList({ required: false }),
            storage: f.field({ type: "jsonb", required: false }),
            schedule: f.field({ type: "jsonb", required: false }),
            concurrency: f.field({
              type: "jsonb",
              required: false,
              description: "the flow's own limit: { limit, key? } (key: a parameter name, a limit per value)",
            }),
            max_restarts: f.int({
              required: false,
              description:
                "times Lazarus may reschedule a run whose infrastructure died (default: the server's, 3; 0: never)",
            }),
            content_hash: f.string({ required: true }),
          }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) =>
      ctx.store.registerFlow({
        projectId: input.project_id,
        name: input.name,
        description: input.description,
        parametersSchema: input.parameters_schema,
        runConfig: input.run_config,
        labels: input.labels ?? [],
        storage: input.storage,
        schedule: input.schedule,
        concurrency: input.concurrency,
        maxRestarts: input.max_restarts,
        contentHash: input.content_hash,
      }),
  }),

  archive_flow: t.field({
    type: success,
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("archive_flow_input", {
          fields: (f) => ({ flow_id: f.field({ type: "uuid", required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await ctx.store.archiveFlow(input.flow_id);
      return { success: true };
    },
  }),

  ...Object.fromEntries(
    (["active", "inactive"] as const).map((which) => [
      `set_schedule_${which}`,
      t.field({
        type: success,
        args: {
          input: t.arg({
            required: true,
            type: builder.inputType(`set_schedule_${which}_input`, {
              fields: (f) => ({ flow_id: f.field({ type: "uuid", required: true }) }),
            }),
          }),
        },
        resolve: async (_root, { input }, ctx) => {
          await ctx.store.setScheduleActive(input.flow_id, which === "active");
          return { success: true };
        },
      }),
    ]),
  ),

  backfill_flow_runs: t.field({
    description:
      "Creates the runs a flow's schedule would have created for its fire times from start to end (both included), at most 1,000 per call: call again from next_start while it is not null. Fire times that already have a run are left alone, so a backfill may be repeated.",
    type: builder
      .objectRef<{
        flowId: string;
        fireTimes: number;
        createdIds: readonly string[];
        existing: number;
        nextStart: string | null;
      }>("backfill_flow_runs_payload")
      .implement({
        fields: (f) => ({
          flow_id: f.field({ type: "uuid", resolve: (p) => p.flowId }),
          fire_times: f.int({
            description: "fire times in this call's part of the window",
            resolve: (p) => p.fireTimes,
          }),
          created: f.field({
            type: ["uuid"],
            description: "ids of the runs created",
            resolve: (p) => [...p.createdIds],
          }),
          existing: f.int({ description: "fire times that already had a run", resolve: (p) => p.existing }),
          next_start: f.field({
            type: "timestamptz",
            nullable: true,
            description: "where the next call starts, when the window held more than one call creates",
            resolve: (p) => p.nextStart,
          }),
        }),
      }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("backfill_flow_runs_input", {
          fields: (f) => ({
            flow_id: f.field({ type: "uuid", required: false }),
            version_group_id: f.field({ type: "uuid", required: false }),
            start: f.field({ type: "timestamptz", required: true }),
            end: f.field({ type: "timestamptz", required: true }),
            dry_run: f.boolean({
              required: false,
              description: "count what would be created, create nothing",
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      const result = await ctx.store.scheduling.backfill({
        flowId: input.flow_id,
        versionGroupId: input.version_group_id,
        start: input.start,
        end: input.end,
        dryRun: input.dry_run,
      });
      return { ...result, flowId: result.flow.id as string };
    },
  }),

  create_notification_rule: t.field({
    description:
      "Notifies when flow runs (of a project, of a flow's version group, or all) enter one of the states: by webhook (JSON, signed with secret), to a Slack incoming webhook, or by email",
    type: idPayload("create_notification_rule_payload", "notification_rule", "notification_rule"),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("create_notification_rule_input", {
          fields: (f) => ({
            name: f.string({ required: true }),
            project_id: f.field({ type: "uuid", required: false }),
            flow_group_id: f.field({
              type: "uuid",
              required: false,
              description: "a flow's version_group_id: runs of that flow only",
            }),
            states: f.field({ type: [stateTypeEnum], required: true }),
            kind: f.string({ required: true, description: "webhook, slack or email" }),
            target: f.string({ required: true, description: "the URL (webhook, slack) or address (email)" }),
            secret: f.string({ required: false, description: "webhooks: signs each payload (HMAC-SHA256)" }),
          }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) =>
      ctx.store.notifications.createRule({
        name: input.name,
        projectId: input.project_id,
        flowGroupId: input.flow_group_id,
        states: input.states,
        kind: input.kind,
        target: input.target,
        secret: input.secret,
      }),
  }),

  delete_notification_rule: t.field({
    type: success,
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("delete_notification_rule_input", {
          fields: (f) => ({ id: f.field({ type: "uuid", required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await ctx.store.notifications.deleteRule(input.id);
      return { success: true };
    },
  }),

  set_concurrency_limit: t.field({
    description:
      "Sets how many flow runs with a label (kind label) or task runs with a tag (kind tag) may run at once, across all agents; 0 holds them all",
    type: idPayload("set_concurrency_limit_payload", "concurrency_limit", "concurrency_limit"),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("set_concurrency_limit_input", {
          fields: (f) => ({
            kind: f.string({ required: true, description: "label or tag" }),
            name: f.string({ required: true }),
            limit: f.int({ required: true }),
          }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.store.concurrency.setLimit(input.kind, input.name, input.limit),
  }),

  delete_concurrency_limit: t.field({
    type: success,
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("delete_concurrency_limit_input", {
          fields: (f) => ({ kind: f.string({ required: true }), name: f.string({ required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await ctx.store.concurrency.deleteLimit(input.kind, input.name);
      return { success: true };
    },
  }),

  acquire_task_slots: t.field({
    description:
      "An executor asks to start a task run under its tags' limits: granted takes a slot of each; otherwise reason says what it waits for (ask again later)",
    type: builder
      .objectRef<{ granted: boolean; reason: string | null }>("acquire_task_slots_payload")
      .implement({
        fields: (f) => ({
          granted: f.exposeBoolean("granted"),
          reason: f.exposeString("reason", { nullable: true }),
        }),
      }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("acquire_task_slots_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            task_run_id: f.field({ type: "uuid", required: true }),
            tags: f.stringList({ required: true }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      await requireOwnTaskRuns(ctx, [input.task_run_id]);
      return ctx.store.concurrency.acquireTaskSlots({
        flowRunId: input.flow_run_id,
        taskRunId: input.task_run_id,
        tags: input.tags,
      });
    },
  }),

  release_task_slots: t.field({
    type: success,
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("release_task_slots_input", {
          fields: (f) => ({ task_run_ids: f.field({ type: ["uuid"], required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnTaskRuns(ctx, input.task_run_ids);
      await ctx.store.concurrency.releaseTaskSlots(input.task_run_ids);
      return { success: true };
    },
  }),

  create_flow_run: t.field({
    type: idPayload("create_flow_run_payload", "flow_run", "flow_run"),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("create_flow_run_input", {
          fields: (f) => ({
            flow_id: f.field({ type: "uuid", required: false }),
            version_group_id: f.field({ type: "uuid", required: false }),
            parameters: f.field({ type: "jsonb", required: false }),
            context: f.field({ type: "jsonb", required: false }),
            flow_run_name: f.string({ required: false }),
            labels: f.stringList({ required: false }),
            run_config: f.field({ type: "jsonb", required: false }),
            scheduled_start_time: f.field({ type: "timestamptz", required: false }),
            idempotency_key: f.string({ required: false }),
            parent_flow_run_id: f.field({
              type: "uuid",
              required: false,
              description: "the flow run starting this one (flows of flows)",
            }),
            timeout: f.string({
              required: false,
              description:
                'this run\'s maximum duration, over its flow\'s timeout ("2h", "30m"): past it the run ends TimedOut',
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireChildOfOwnRun(ctx, input.parent_flow_run_id);
      requireChildIdempotencyKey(ctx, input.parent_flow_run_id, input.idempotency_key);
      const created = await ctx.store.createFlowRun({
        flowId: input.flow_id,
        versionGroupId: input.version_group_id,
        parameters: input.parameters as Record<string, unknown> | null,
        context: input.context as Record<string, unknown> | null,
        flowRunName: input.flow_run_name,
        labels: input.labels,
        runConfig: input.run_config as Record<string, unknown> | null,
        scheduledStartTime: input.scheduled_start_time,
        idempotencyKey: input.idempotency_key,
        parentFlowRunId: input.parent_flow_run_id,
        timeout: input.timeout,
      });
      await requireReached(ctx, created);
      return created;
    },
  }),

  set_flow_run_states: t.field({
    type: statesPayload,
    description:
      "Batched state writes; each carries the version it read and, optionally, its own id (replays are harmless)",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("set_flow_run_states_input", {
          fields: (f) => ({
            states: f.field({
              required: true,
              type: [
                builder.inputType("set_flow_run_state_input", {
                  fields: (g) => ({
                    id: g.field({ type: "uuid", required: false }),
                    flow_run_id: g.field({ type: "uuid", required: true }),
                    version: g.int({ required: true }),
                    state: g.field({ type: stateInput, required: true }),
                  }),
                }),
              ],
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(
        ctx,
        input.states.map((s) => s.flow_run_id),
      );
      return {
        states: await ctx.store.setFlowRunStates(
          input.states.map(
            (s): SetStateItem => ({
              id: s.id,
              runId: s.flow_run_id,
              version: s.version,
              state: { ...s.state, data: s.state.data as Record<string, unknown> | null },
            }),
          ),
        ),
      };
    },
  }),

  set_task_run_states: t.field({
    type: statesPayload,
    description: "Batched task-run state writes, one transaction per batch",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("set_task_run_states_input", {
          fields: (f) => ({
            states: f.field({
              required: true,
              type: [
                builder.inputType("set_task_run_state_input", {
                  fields: (g) => ({
                    id: g.field({ type: "uuid", required: false }),
                    task_run_id: g.field({ type: "uuid", required: true }),
                    version: g.int({ required: true }),
                    state: g.field({ type: stateInput, required: true }),
                  }),
                }),
              ],
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnTaskRuns(
        ctx,
        input.states.map((s) => s.task_run_id),
      );
      return {
        states: await ctx.store.setTaskRunStates(
          input.states.map(
            (s): SetStateItem => ({
              id: s.id,
              runId: s.task_run_id,
              version: s.version,
              state: { ...s.state, data: s.state.data as Record<string, unknown> | null },
            }),
          ),
        ),
      };
    },
  }),

  create_task_runs: t.field({
    type: builder
      .objectRef<{ count: number; refused: SetStateResult[] }>("create_task_runs_payload")
      .implement({
        fields: (f) => ({
          count: f.exposeInt("count", { description: "task runs created (replayed ids are not counted)" }),
          refused: f.field({
            type: [stateResult],
            description: "states given with the created task runs that were not applied",
            resolve: (p) => p.refused,
          }),
        }),
      }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("create_task_runs_input", {
          fields: (f) => ({
            restart_count: f.int({
              required: false,
              description:
                "the execution the writer runs (the run's restart_count when it loaded it): a run started again since refuses its task runs (EXECUTION_SUPERSEDED)",
            }),
            task_runs: f.field({
              required: true,
              type: [
                builder.inputType("create_task_run_input", {
                  fields: (g) => ({
                    id: g.field({ type: "uuid", required: true }),
                    flow_run_id: g.field({ type: "uuid", required: true }),
                    task_key: g.string({ required: true }),
                    task_name: g.string({ required: true }),
                    map_index: g.int({ required: false }),
                    parent_task_run_id: g.field({ type: "uuid", required: false }),
                    upstream: g.field({ type: ["uuid"], required: false }),
                    tags: g.stringList({ required: false }),
                    run_key: g.string({
                      required: false,
                      description:
                        "the task run's place in its flow run (`<task key>#<n>`, `<parent's key>[i]`): what a restarted or resumed run matches",
                    }),
                    timestamp: g.field({ type: "timestamptz", required: false }),
                    states: g.field({
                      type: [stateInput],
                      required: false,
                      description:
                        "states the task run entered after Pending, in order (versions 2, 3, …): written with it, so a short task run is one item",
                    }),
                  }),
                }),
              ],
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(
        ctx,
        input.task_runs.map((r) => r.flow_run_id),
      );
      return ctx.store.createTaskRuns(
        input.task_runs.map((r) => ({
          id: r.id,
          flowRunId: r.flow_run_id,
          taskKey: r.task_key,
          taskName: r.task_name,
          mapIndex: r.map_index,
          parentTaskRunId: r.parent_task_run_id,
          upstream: r.upstream,
          tags: r.tags,
          runKey: r.run_key,
          timestamp: r.timestamp,
          states: r.states?.map((state) => ({
            ...state,
            data: state.data as Record<string, unknown> | null,
          })),
        })),
        { execution: input.restart_count },
      );
    },
  }),

  write_run_logs: t.field({
    type: builder.objectRef<{ count: number }>("write_run_logs_payload").implement({
      fields: (f) => ({
        success: f.boolean({ resolve: () => true }),
        count: f.exposeInt("count", { description: "lines written (replayed ids are not counted)" }),
      }),
    }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("write_run_logs_input", {
          fields: (f) => ({
            logs: f.field({
              required: true,
              type: [
                builder.inputType("write_run_log_input", {
                  fields: (g) => ({
                    id: g.field({ type: "uuid", required: false }),
                    flow_run_id: g.field({ type: "uuid", required: true }),
                    task_run_id: g.field({ type: "uuid", required: false }),
                    level: g.string({ required: false }),
                    message: g.string({ required: true }),
                    timestamp: g.field({ type: "timestamptz", required: false }),
                  }),
                }),
              ],
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(
        ctx,
        input.logs.map((l) => l.flow_run_id),
      );
      await requireOwnTaskRuns(
        ctx,
        input.logs.flatMap((l) => (l.task_run_id ? [l.task_run_id] : [])),
      );
      return {
        count: await ctx.store.writeLogs(
          input.logs.map((l) => ({
            id: l.id,
            flowRunId: l.flow_run_id,
            taskRunId: l.task_run_id,
            level: l.level ?? "info",
            message: l.message,
            timestamp: l.timestamp,
          })),
        ),
      };
    },
  }),

  cancel_flow_run: t.field({
    type: builder.objectRef<Record<string, unknown>>("cancel_flow_run_payload").implement({
      fields: (f) => ({
        state: f.string({ resolve: (r) => r.state as string }),
        flow_run: f.field({ type: objectRef("flow_run"), resolve: (r) => r }),
      }),
    }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("cancel_flow_run_input", {
          fields: (f) => ({ flow_run_id: f.field({ type: "uuid", required: true }) }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.store.cancelFlowRun(input.flow_run_id),
  }),

  restart_flow_run: t.field({
    type: builder.objectRef<Record<string, unknown>>("restart_flow_run_payload").implement({
      fields: (f) => ({
        id: f.field({ type: "uuid", resolve: (r) => r.id as string }),
        state: f.string({ resolve: (r) => r.state as string }),
        flow_run: f.field({ type: objectRef("flow_run"), resolve: (r) => r }),
      }),
    }),
    description:
      "Runs a Failed, Cancelled or TimedOut flow run again from its failed task runs: those that succeeded with a kept result are reused, the rest go back to Pending, and the run is Scheduled for its agents.",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("restart_flow_run_input", {
          fields: (f) => ({ flow_run_id: f.field({ type: "uuid", required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnOrChildRun(ctx, input.flow_run_id, true);
      return ctx.store.runControl.restart(input.flow_run_id);
    },
  }),

  resume_flow_run: t.field({
    type: builder.objectRef<Record<string, unknown>>("resume_flow_run_payload").implement({
      fields: (f) => ({
        id: f.field({ type: "uuid", resolve: (r) => r.id as string }),
        state: f.string({ resolve: (r) => r.state as string }),
        flow_run: f.field({ type: objectRef("flow_run"), resolve: (r) => r }),
      }),
    }),
    description:
      "Approves a Paused flow run: its pause() gate succeeds (returning `input`, if given) and the run is Scheduled again, to go on from its kept results.",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("resume_flow_run_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            input: f.field({
              type: "jsonb",
              required: false,
              description: "what the paused flow's `await pause()` returns (JSON)",
            }),
          }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.store.runControl.resume(input.flow_run_id, input.input),
  }),

  register_agent: t.field({
    type: idPayload("register_agent_payload", "agent", "agent"),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("register_agent_input", {
          fields: (f) => ({
            id: f.field({ type: "uuid", required: false }),
            name: f.string({ required: true }),
            type: f.string({ required: true }),
            labels: f.stringList({ required: false }),
            accept_unlabeled: f.boolean({ required: false }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnAgent(ctx, input.id);
      return ctx.store.registerAgent({
        id: input.id,
        name: input.name,
        type: input.type,
        labels: input.labels,
        acceptUnlabeled: input.accept_unlabeled,
        keyId: ctx.principal.keyId,
      });
    },
  }),

  agent_heartbeat: t.field({
    type: success,
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("agent_heartbeat_input", {
          fields: (f) => ({ agent_id: f.field({ type: "uuid", required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnAgent(ctx, input.agent_id);
      await ctx.store.agentHeartbeat(input.agent_id);
      return { success: true };
    },
  }),

  release_flow_runs: t.field({
    type: builder.objectRef<{ flow_runs: Record<string, unknown>[] }>("release_flow_runs_payload").implement({
      fields: (f) => ({ flow_runs: f.field({ type: [objectRef("flow_run")], resolve: (p) => p.flow_runs }) }),
    }),
    description:
      "An agent whose claim went unanswered gives back its Submitted runs not started, but those it holds; they are Scheduled again, not launched",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("release_flow_runs_input", {
          fields: (f) => ({
            agent_id: f.field({ type: "uuid", required: true }),
            holding: f.field({
              type: ["uuid"],
              required: true,
              description: "the runs the agent launched and still watches",
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnAgent(ctx, input.agent_id);
      return { flow_runs: await ctx.store.runControl.releaseUnheld(input.agent_id, input.holding) };
    },
  }),

  claim_flow_runs: t.field({
    type: builder.objectRef<{ flow_runs: Record<string, unknown>[] }>("claim_flow_runs_payload").implement({
      fields: (f) => ({
        flow_runs: f.field({ type: [objectRef("flow_run")], resolve: (p) => p.flow_runs }),
        tokens: f.field({
          type: [runToken],
          description:
            "a token per claimed run, valid for that run only: what the agent gives the run's process instead of its own key",
          resolve: (p, _args, ctx) =>
            Promise.all(
              p.flow_runs.map(async (run) => ({
                flow_run_id: run.id as string,
                token: await ctx.store.runTokens.mint(run.id as string),
              })),
            ),
        }),
      }),
    }),
    description: "Atomically claims due Scheduled runs whose labels the agent carries; they become Submitted",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("claim_flow_runs_input", {
          fields: (f) => ({
            agent_id: f.field({ type: "uuid", required: true }),
            limit: f.int({ required: false }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnAgent(ctx, input.agent_id);
      return { flow_runs: await ctx.store.claimFlowRuns(input.agent_id, input.limit ?? 1) };
    },
  }),
}));

builder.mutationFields((t) => ({
  upload_flow_bundle: t.field({
    type: builder.objectRef<{ hash: string; created: boolean }>("upload_flow_bundle_payload").implement({
      fields: (f) => ({
        hash: f.exposeString("hash"),
        created: f.exposeBoolean("created", { description: "false when the server had this bundle already" }),
      }),
    }),
    description: "Stores a flow bundle in the database storage, by its sha256 (idempotent)",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("upload_flow_bundle_input", {
          fields: (f) => ({ hash: f.string({ required: true }), code: f.string({ required: true }) }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.store.putBundle(input.hash, input.code),
  }),
  flow_run_heartbeat: t.field({
    type: builder
      .objectRef<{ state: string; superseded: boolean; intervalMs: number }>("flow_run_heartbeat_payload")
      .implement({
        fields: (f) => ({
          success: f.boolean({ resolve: (p) => !p.superseded }),
          state: f.exposeString("state", {
            description: "the run's state: Cancelling asks the executor to stop",
          }),
          superseded: f.exposeBoolean("superseded", {
            description: "the run was started again since this execution (Lazarus, a restart): stop",
          }),
          interval_ms: f.exposeInt("intervalMs", { description: "when to send the next heartbeat" }),
        }),
      }),
    description: "The executor of a run is alive",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("flow_run_heartbeat_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            restart_count: f.int({
              required: false,
              description: "the execution this executor runs (the run's restart_count when it loaded it)",
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      return ctx.store.flowRunHeartbeat(input.flow_run_id, input.restart_count);
    },
  }),

  report_infrastructure_failure: t.field({
    type: builder
      .objectRef<{ verdict: string; state: string; message: string }>("report_infrastructure_failure_payload")
      .implement({
        fields: (f) => ({
          verdict: f.exposeString("verdict", {
            description: "rescheduled, failed, cancelled, superseded (a newer execution runs) or unchanged",
          }),
          state: f.exposeString("state", { description: "the run's state after the report" }),
          message: f.exposeString("message"),
        }),
      }),
    description:
      "An agent saw a run's infrastructure end without a final state (exit, OOM kill, eviction, Spot reclaim): Lazarus reschedules it while its flow's restarts last, then fails it.",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("report_infrastructure_failure_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            restart_count: f.int({ required: false, description: "the execution the agent launched" }),
            message: f.string({ required: true, description: "what happened, for the run's history" }),
            data: f.field({ type: "jsonb", required: false, description: "e.g. exitCode, signal" }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      return ctx.store.runControl.lost(
        input.flow_run_id,
        {
          reason: input.message,
          execution: input.restart_count ?? undefined,
          data: (input.data as Record<string, unknown> | null) ?? undefined,
        },
        ctx.store.lazarus.maxRestarts,
      );
    },
  }),
}));

builder.queryFields((t) => ({
  flow_bundle: t.field({
    type: builder.objectRef<{ hash: string; code: string; size: number }>("flow_bundle").implement({
      fields: (f) => ({
        hash: f.exposeString("hash"),
        code: f.exposeString("code"),
        size: f.exposeInt("size"),
      }),
    }),
    nullable: true,
    description: "A flow bundle kept in the database storage",
    args: { hash: t.arg.string({ required: true }) },
    resolve: async (_root, { hash }, ctx) => {
      await requireOwnBundle(ctx, hash);
      const code = await ctx.store.getBundle(hash);
      return code === undefined ? null : { hash, code, size: Buffer.byteLength(code) };
    },
  }),
}));
