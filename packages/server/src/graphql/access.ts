import { type Access, type Scope, scopeAllows, scopesGranting } from "@regent/core";
import {
  type DocumentNode,
  GraphQLError,
  getOperationAST,
  Kind,
  type OperationTypeNode,
  type SelectionSetNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { GraphQLContext } from "./builder.js";

/**
 * The access each field of the API needs: the one table that the check below and the scope tests read.
 * Queries not listed need `read`; a mutation or subscription not listed needs `admin`, so a new one is
 * closed until someone decides (a test fails until it is listed).
 */
export const FIELD_ACCESS: {
  readonly query: Readonly<Record<string, Access>>;
  readonly mutation: Readonly<Record<string, Access>>;
  readonly subscription: Readonly<Record<string, Access>>;
} = {
  query: {
    api_keys: "admin",
    secrets: "manage",
    // Values go to runs (their tokens may read them) and to admins, not to the people who set them.
    secret_value: "admin",
    // Notification targets are webhook and Slack URLs: secrets of a kind, so not for runners.
    notification_rule: "manage",
    notification_rule_by_pk: "manage",
    notification_rule_aggregate: "manage",
    notification: "manage",
    notification_by_pk: "manage",
    notification_aggregate: "manage",
  },
  mutation: {
    create_api_key: "admin",
    revoke_api_key: "admin",

    set_secret: "manage",
    delete_secret: "manage",

    create_project: "manage",
    delete_project: "manage",
    register_flow: "manage",
    upload_flow_bundle: "manage",
    archive_flow: "manage",
    set_schedule_active: "manage",
    set_schedule_inactive: "manage",
    backfill_flow_runs: "manage",
    create_notification_rule: "manage",
    delete_notification_rule: "manage",
    set_concurrency_limit: "manage",
    delete_concurrency_limit: "manage",
    cancel_flow_run: "manage",
    restart_flow_run: "manage",
    resume_flow_run: "manage",

    // A run's own process starts child runs (flows of flows) and reports; people start runs too.
    create_flow_run: "run",
    set_flow_run_states: "run",
    set_task_run_states: "run",
    create_task_runs: "run",
    write_run_logs: "run",
    flow_run_heartbeat: "run",
    acquire_task_slots: "run",
    release_task_slots: "run",
    // The cluster task runner: a run's process and its workers, with the run's token.
    enqueue_task_jobs: "run",
    claim_task_jobs: "run",
    complete_task_jobs: "run",
    task_worker_heartbeat: "run",
    release_task_jobs: "run",
    take_task_results: "run",
    clear_task_jobs: "run",

    register_agent: "agent",
    agent_heartbeat: "agent",
    claim_flow_runs: "agent",
    release_flow_runs: "agent",
    report_infrastructure_failure: "agent",
  },
  subscription: {
    flow_run_states: "read",
    flow_run_logs: "read",
    claimable_flow_runs: "agent",
    task_queue_events: "run",
  },
};

/**
 * The root fields a run's token may call (it is narrowed further to its run and the child runs it starts:
 * see run-scope.ts). Anything else, including what a runner key may do for an agent, is refused.
 */
export const RUN_TOKEN_FIELDS: {
  readonly query: ReadonlySet<string>;
  readonly mutation: ReadonlySet<string>;
  readonly subscription: ReadonlySet<string>;
} = {
  query: new Set([
    "flow_run",
    "flow_run_by_pk",
    "task_run",
    "task_run_by_pk",
    "flow_run_state",
    "task_run_state",
    "log",
    "flow",
    "flow_by_pk",
    "project",
    "project_by_pk",
    "concurrency_limit",
    "flow_bundle",
    "auth_info",
    "secret_value",
  ]),
  mutation: new Set([
    "create_flow_run",
    "restart_flow_run",
    "set_flow_run_states",
    "set_task_run_states",
    "create_task_runs",
    "write_run_logs",
    "flow_run_heartbeat",
    "acquire_task_slots",
    "release_task_slots",
    "enqueue_task_jobs",
    "claim_task_jobs",
    "complete_task_jobs",
    "task_worker_heartbeat",
    "release_task_jobs",
    "take_task_results",
    "clear_task_jobs",
  ]),
  subscription: new Set(["flow_run_states", "flow_run_logs", "task_queue_events"]),
};

/** The access a root field needs (see FIELD_ACCESS). */
export function accessOf(
  operation: OperationTypeNode | "query" | "mutation" | "subscription",
  field: string,
): Access {
  if (field.startsWith("__")) return "read"; // __typename, introspection
  const listed = FIELD_ACCESS[operation][field];
  if (listed) return listed;
  return operation === "query" ? "read" : "admin";
}

/** The root fields an operation selects, through fragments. */
function rootFields(
  document: DocumentNode,
  selectionSet: SelectionSetNode,
  seen = new Set<string>(),
): string[] {
  const fields: string[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) fields.push(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT)
      fields.push(...rootFields(document, selection.selectionSet, seen));
    else {
      const name = selection.name.value;
      if (seen.has(name)) continue;
      seen.add(name);
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === name,
      );
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION)
        fields.push(...rootFields(document, fragment.selectionSet, seen));
    }
  }
  return fields;
}

/** The operation a request runs and its root fields; undefined when there is none (graphql-js answers). */
function operationOf(
  document: DocumentNode,
  operationName: string | null | undefined,
): { operation: OperationTypeNode; fields: string[] } | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  return { operation: operation.operation, fields: rootFields(document, operation.selectionSet) };
}

/** The first root field `scope` may not use, with the access it needs. */
function deniedField(
  op: { operation: OperationTypeNode; fields: readonly string[] },
  scope: Scope,
): { field: string; access: Access } | undefined {
  for (const field of op.fields) {
    const access = accessOf(op.operation, field);
    if (!scopeAllows(scope, access)) return { field, access };
  }
  return undefined;
}

/** FORBIDDEN, naming the field and the scopes that may use it (HTTP 403). */
function forbidden(scope: Scope, denied: { field: string; access: Access }): GraphQLError {
  const needs = scopesGranting(denied.access);
  return new GraphQLError(
    `${denied.field} needs a key with scope ${needs.join(" or ")}; this request's key has scope ${scope}`,
    {
      extensions: {
        code: "FORBIDDEN",
        details: { field: denied.field, scope, needs },
        http: { status: 403 },
      },
    },
  );
}

/** FORBIDDEN for a field a run's token may not call (HTTP 403). */
function forbiddenToRunToken(field: string): GraphQLError {
  return new GraphQLError(
    `${field} is not open to a run's token (it reports for its own run and starts child runs); use an API key`,
    { extensions: { code: "FORBIDDEN", details: { field, token: "run" }, http: { status: 403 } } },
  );
}

/**
 * Mutations that cost the server much (bundles stored, many runs created, keys minted): each key may call
 * them at most `perMinute` times a minute, as a bucket that refills evenly, per replica.
 */
export const RATE_LIMITED_FIELDS: ReadonlySet<string> = new Set([
  "register_flow",
  "upload_flow_bundle",
  "backfill_flow_runs",
  "create_api_key",
  "delete_project",
]);

export interface AccessOptions {
  /** Calls of RATE_LIMITED_FIELDS per key per minute; 0 for no limit. */
  readonly perMinute: number;
  readonly now: () => number;
}

/** A token bucket per key: `take` says how long to wait, 0 when a token was there. */
function buckets(perMinute: number, now: () => number) {
  const state = new Map<string, { tokens: number; at: number }>();
  const rate = perMinute / 60_000;
  return (who: string): number => {
    const t = now();
    const b = state.get(who) ?? { tokens: perMinute, at: t };
    b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * rate);
    b.at = t;
    if (state.size > 10_000) state.clear(); // bounded: a flood of keys cannot grow it for ever
    state.set(who, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / rate);
  };
}

/**
 * Refuses, before anything runs, an operation with a root field the request's key may not use (403),
 * or one over its key's rate for expensive mutations (429).
 */
export function accessPlugin(options: AccessOptions): Plugin<GraphQLContext> {
  const take = options.perMinute > 0 ? buckets(options.perMinute, options.now) : undefined;
  /** The error that refuses the request, if any; the operation is read once for both checks. */
  const refusal = (args: {
    document: DocumentNode;
    operationName?: string | null;
    contextValue: unknown;
  }): GraphQLError | undefined => {
    const op = operationOf(args.document, args.operationName);
    if (!op) return undefined;
    const { principal } = args.contextValue as GraphQLContext;
    if (principal.flowRunId !== undefined) {
      const field = op.fields.find((f) => !f.startsWith("__") && !RUN_TOKEN_FIELDS[op.operation].has(f));
      if (field) return forbiddenToRunToken(field);
      return undefined; // a run's token calls none of the rate-limited fields
    }
    const denied = deniedField(op, principal.scope);
    if (denied) return forbidden(principal.scope, denied);
    if (!take || op.operation !== "mutation") return undefined;
    for (const field of op.fields) {
      if (!RATE_LIMITED_FIELDS.has(field)) continue;
      const waitMs = take(principal.keyId ?? "no key");
      if (waitMs > 0) return rateLimited(field, options.perMinute, waitMs);
    }
    return undefined;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = refusal(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = refusal(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

/** RATE_LIMITED, saying when to try again (HTTP 429 with Retry-After). */
function rateLimited(field: string, perMinute: number, waitMs: number): GraphQLError {
  const seconds = Math.ceil(waitMs / 1000);
  return new GraphQLError(
    `${field} is limited to ${perMinute} calls a minute per API key ([server] rate_limit); try again in ${seconds} s`,
    {
      extensions: {
        code: "RATE_LIMITED",
        details: { field, retryAfterMs: waitMs },
        http: { status: 429, headers: { "retry-after": String(seconds) } },
      },
    },
  );
}
