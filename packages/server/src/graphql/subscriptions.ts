import { agentCanTakeRun } from "@regent/core";
import { filter, pipe } from "graphql-yoga";
import type { ClaimableEvent, LogEvent, StateEvent } from "../events.js";
import { builder } from "./builder.js";
import { requireOwnOrChildRun } from "./run-scope.js";

// Live updates over Server-Sent Events (GraphQL over SSE, as graphql-yoga serves it at /graphql with
// `Accept: text/event-stream`): a run's state changes and log lines, and "a run became claimable" for agents.

const stateEvent = builder.objectRef<StateEvent>("state_event").implement({
  fields: (t) => ({
    kind: t.exposeString("kind", { description: "flow_run_state or task_run_state" }),
    flow_run_id: t.field({ type: "uuid", resolve: (e) => e.flow_run_id }),
    task_run_id: t.field({ type: "uuid", nullable: true, resolve: (e) => e.task_run_id }),
    state: t.exposeString("state"),
    message: t.exposeString("message", { nullable: true }),
    version: t.exposeInt("version"),
    timestamp: t.field({ type: "timestamptz", resolve: (e) => e.timestamp }),
  }),
});

const logEvent = builder.objectRef<LogEvent>("log_event").implement({
  fields: (t) => ({
    id: t.field({ type: "uuid", resolve: (e) => e.id }),
    flow_run_id: t.field({ type: "uuid", resolve: (e) => e.flow_run_id }),
    task_run_id: t.field({ type: "uuid", nullable: true, resolve: (e) => e.task_run_id }),
    level: t.exposeString("level"),
    message: t.exposeString("message"),
    timestamp: t.field({ type: "timestamptz", resolve: (e) => e.timestamp }),
  }),
});

const claimableEvent = builder.objectRef<ClaimableEvent>("claimable_event").implement({
  fields: (t) => ({
    flow_run_id: t.field({ type: "uuid", resolve: (e) => e.flow_run_id }),
    labels: t.stringList({ resolve: (e) => [...e.labels] }),
  }),
});

builder.subscriptionType({});

builder.subscriptionFields((t) => ({
  flow_run_states: t.field({
    type: stateEvent,
    description:
      "State changes of a flow run and of its task runs, as they commit (a subscriber that falls 20,000 behind misses the oldest)",
    args: {
      flow_run_id: t.arg({ type: "uuid", required: true }),
      task_runs: t.arg.boolean({
        required: false,
        description: "false: the flow run's own states only (default true)",
      }),
    },
    subscribe: async (_root, args, ctx) => {
      await requireOwnOrChildRun(ctx, args.flow_run_id);
      return ctx.events.subscribe(
        args.task_runs === false ? "flow_run:flow_state" : "flow_run:state",
        args.flow_run_id,
      );
    },
    resolve: (event) => event,
  }),
  flow_run_logs: t.field({
    type: logEvent,
    description: "Log lines of a flow run (and its task runs), as they are written",
    args: { flow_run_id: t.arg({ type: "uuid", required: true }) },
    subscribe: async (_root, args, ctx) => {
      await requireOwnOrChildRun(ctx, args.flow_run_id);
      return ctx.events.subscribe("flow_run:log", args.flow_run_id);
    },
    resolve: (event) => event,
  }),
  claimable_flow_runs: t.field({
    type: claimableEvent,
    description:
      "Runs that became claimable and whose labels are all among `labels` (agents wake on it; they still claim with claim_flow_runs)",
    args: {
      labels: t.arg.stringList({ required: true }),
      accept_unlabeled: t.arg.boolean({ required: false }),
    },
    subscribe: (_root, args, ctx) =>
      pipe(
        ctx.events.subscribe("claimable"),
        filter((e: ClaimableEvent) =>
          agentCanTakeRun({
            runLabels: e.labels,
            agentLabels: args.labels,
            acceptUnlabeled: args.accept_unlabeled ?? false,
          }),
        ),
      ),
    resolve: (event) => event,
  }),
}));
