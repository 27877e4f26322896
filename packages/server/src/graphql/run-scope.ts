import { ForbiddenError } from "@regent/core";
import { RELATIONS, type TableName } from "../db/tables.js";
import { selectRows } from "../store/reads.js";
import type { GraphQLContext } from "./builder.js";

// Which runs a request may reach, beyond what its scope's fields allow (access.ts):
// - a run's token: its own run and the child runs it starts (flows of flows), their task runs, states and
//   logs; and flows, projects and tag limits (to find and start children). It calls RUN_TOKEN_FIELDS only.
// - a runner key (an agent's): its own agents (registered with it) and the runs they claimed, their task
//   runs, states and logs, and the bundles of those runs' flows; and flows, projects and tag limits.
// - any other key (user, admin), or no key on a server without keys: everything its scope allows.
// The checks below narrow reads (rows), arguments (ids written to) and answers to that reach.

type Reach =
  | { readonly kind: "all" }
  | { readonly kind: "run"; readonly flowRunId: string }
  | { readonly kind: "agent-key"; readonly keyId: string };

function reachOf(ctx: GraphQLContext): Reach {
  const p = ctx.principal;
  if (p.flowRunId !== undefined) return { kind: "run", flowRunId: p.flowRunId };
  if (p.scope === "runner" && p.keyId !== undefined) return { kind: "agent-key", keyId: p.keyId };
  return { kind: "all" };
}

/** Tables read whole by any reach: nothing in them belongs to one run or agent. */
const OPEN_TABLES: ReadonlySet<TableName> = new Set(["flow", "project", "concurrency_limit"]);

/** The runs a narrowed reach may see, as a `flow_run` filter. */
function runFilter(reach: Exclude<Reach, { kind: "all" }>): Record<string, unknown> {
  return reach.kind === "run"
    ? { _or: [{ id: { _eq: reach.flowRunId } }, { parent_flow_run_id: { _eq: reach.flowRunId } }] }
    : { agent: { key_id: { _eq: reach.keyId } } };
}

/** Per table, the rows a narrowed reach may read; tables not listed (and not open) show none. */
function tableFilter(
  reach: Exclude<Reach, { kind: "all" }>,
  table: TableName,
): Record<string, unknown> | undefined {
  switch (table) {
    case "flow_run":
      return runFilter(reach);
    case "task_run":
    case "flow_run_state":
    case "log":
      return { flow_run: runFilter(reach) };
    case "task_run_state":
      return { task_run: { flow_run: runFilter(reach) } };
    case "agent":
      return reach.kind === "agent-key" ? { key_id: { _eq: reach.keyId } } : undefined;
    default:
      return undefined;
  }
}

/**
 * Refuses, for a narrowed reach, a caller's filter that follows a relation into a table other than the
 * open ones: each relation is an EXISTS over the whole related table, which would tell it (one `_like` at
 * a time) what other runs, logs and agents hold.
 */
function checkCallerFilter(reach: Exclude<Reach, { kind: "all" }>, table: TableName, where: unknown): void {
  if (!where || typeof where !== "object") return;
  for (const [key, value] of Object.entries(where as Record<string, unknown>)) {
    if (key === "_and" || key === "_or") {
      if (Array.isArray(value)) for (const item of value) checkCallerFilter(reach, table, item);
    } else if (key === "_not") checkCallerFilter(reach, table, value);
    else {
      const relation = RELATIONS[table][key];
      if (!relation) continue; // a column (or an unknown field, which the filter itself refuses)
      if (!OPEN_TABLES.has(relation.table))
        throw new ForbiddenError(
          `${reach.kind === "run" ? "a run's token" : "a runner key"} may not filter ${table} by ${key} (${relation.table}): filter by its own columns, or by flow or project`,
          { table, relation: key },
        );
      checkCallerFilter(reach, relation.table, value);
    }
  }
}

/** `where` narrowed to what the request may read of `table` (unchanged for a reach of all). */
export function scopedWhere(
  ctx: GraphQLContext,
  table: TableName,
  where: Record<string, unknown> | null | undefined,
): Record<string, unknown> | null | undefined {
  const reach = reachOf(ctx);
  if (reach.kind === "all") return where;
  checkCallerFilter(reach, table, where);
  if (OPEN_TABLES.has(table)) return where;
  const scope = tableFilter(reach, table) ?? { id: { _is_null: true } }; // no rows
  return where ? { _and: [scope, where] } : scope;
}

/** Whether a run is within a narrowed reach: its own (or, for a token, a child) / claimed by its agents. */
async function runReached(
  ctx: GraphQLContext,
  reach: Exclude<Reach, { kind: "all" }>,
  run: Record<string, unknown>,
  children: boolean,
): Promise<boolean> {
  if (reach.kind === "run")
    return run.id === reach.flowRunId || (children && run.parent_flow_run_id === reach.flowRunId);
  if (typeof run.agent_id !== "string") return false;
  const agent = await ctx.loader("agent", "id").load(run.agent_id);
  return agent?.key_id === reach.keyId;
}

async function runById(ctx: GraphQLContext, id: unknown) {
  return typeof id === "string" ? ctx.loader("flow_run", "id").load(id) : undefined;
}

/** Whether a row (found by id through a loader) is one the request may see. */
export async function rowVisible(
  ctx: GraphQLContext,
  table: TableName,
  row: Record<string, unknown>,
): Promise<boolean> {
  const reach = reachOf(ctx);
  if (reach.kind === "all" || OPEN_TABLES.has(table)) return true;
  switch (table) {
    case "flow_run":
      return runReached(ctx, reach, row, true);
    case "task_run":
    case "flow_run_state":
    case "log":
    case "task_run_state": {
      const run = await runById(ctx, row.flow_run_id);
      return run !== undefined && runReached(ctx, reach, run, true);
    }
    case "agent":
      return reach.kind === "agent-key" && row.key_id === reach.keyId;
    default:
      return false;
  }
}

function refuse(reach: Exclude<Reach, { kind: "all" }>, what: string): never {
  if (reach.kind === "run")
    throw new ForbiddenError(
      `this run's token may only ${what.replace("{runs}", "its own run")} (its run is ${reach.flowRunId})`,
      {
        flow_run_id: reach.flowRunId,
      },
    );
  throw new ForbiddenError(
    `a runner key may only ${what.replace("{runs}", "the runs its own agents claimed")}; use a user key for anything else`,
  );
}

/** The runs written to are within reach (unknown ids are left to the write to report). */
export async function requireOwnRuns(ctx: GraphQLContext, flowRunIds: Iterable<string>): Promise<void> {
  const reach = reachOf(ctx);
  if (reach.kind === "all") return;
  for (const id of new Set(flowRunIds)) {
    if (reach.kind === "run") {
      if (id !== reach.flowRunId) refuse(reach, "report for {runs}");
      continue;
    }
    const run = await runById(ctx, id);
    if (run && !(await runReached(ctx, reach, run, false))) refuse(reach, "report for {runs}");
  }
}

/** The task runs written to belong to runs within reach (unknown ids are left to the write to report). */
export async function requireOwnTaskRuns(ctx: GraphQLContext, taskRunIds: readonly string[]): Promise<void> {
  const reach = reachOf(ctx);
  if (reach.kind === "all" || taskRunIds.length === 0) return;
  const rows = await ctx.loader("task_run", "id").loadMany([...new Set(taskRunIds)]);
  const runs = new Set<string>();
  for (const row of rows) {
    if (row instanceof Error) throw row;
    if (row) runs.add(row.flow_run_id as string);
  }
  for (const id of runs) {
    const run = await runById(ctx, id);
    if (run && !(await runReached(ctx, reach, run, false)))
      refuse(reach, "report for the task runs of {runs}");
  }
}

/** A run started by a narrowed reach is a child of a run within it. */
export async function requireChildOfOwnRun(
  ctx: GraphQLContext,
  parentFlowRunId: string | null | undefined,
): Promise<void> {
  const reach = reachOf(ctx);
  if (reach.kind === "all") return;
  const parent = await runById(ctx, parentFlowRunId);
  if (!parent || !(await runReached(ctx, reach, parent, false)))
    refuse(reach, "start child runs of {runs} (parent_flow_run_id)");
}

/**
 * The run acted on or followed is within reach (a token's children included; its own run too, unless
 * `childrenOnly`: a run does not restart itself).
 */
export async function requireOwnOrChildRun(
  ctx: GraphQLContext,
  flowRunId: string,
  childrenOnly = false,
): Promise<void> {
  const reach = reachOf(ctx);
  if (reach.kind === "all") return;
  if (reach.kind === "run" && flowRunId === reach.flowRunId) {
    if (childrenOnly) refuse(reach, "restart the child runs it started, not its own run");
    return;
  }
  const run = await runById(ctx, flowRunId);
  if (run && !(await runReached(ctx, reach, run, true)))
    refuse(
      reach,
      reach.kind === "run" ? "act on its own run and the child runs it started" : "follow {runs}",
    );
}

/**
 * The agent acted for is one a runner key registered (unknown agents are left to the store to report).
 * An agent registered without a key (before keys, or on a server without them) is taken on by the first
 * runner key that acts for it, so agents running through an upgrade go on.
 */
export async function requireOwnAgent(
  ctx: GraphQLContext,
  agentId: string | null | undefined,
): Promise<void> {
  const reach = reachOf(ctx);
  if (reach.kind !== "agent-key" || !agentId) return;
  const loader = ctx.loader("agent", "id");
  const agent = await loader.load(agentId);
  if (!agent || agent.key_id === reach.keyId) return;
  if (agent.key_id === null || agent.key_id === undefined) {
    await ctx.store.database.db
      .updateTable("agent")
      .set({ key_id: reach.keyId })
      .where("id", "=", agentId)
      .where("key_id", "is", null)
      .execute();
    loader.clear(agentId);
    if ((await loader.load(agentId))?.key_id === reach.keyId) return;
  }
  refuse(reach, "act for agents it registered (this agent was registered with another key)");
}

/** The bundle read is of a flow with a run within reach (what that run's executor or agent loads). */
export async function requireOwnBundle(ctx: GraphQLContext, hash: string): Promise<void> {
  const reach = reachOf(ctx);
  if (reach.kind === "all") return;
  const flows = await selectRows(ctx.store.database, "flow", {
    where: { flow_runs: runFilter(reach) },
    limit: 10_000,
  });
  const hashes = flows.map((f) => (f.storage as { bundle?: { hash?: unknown } } | null)?.bundle?.hash);
  if (!hashes.includes(hash)) refuse(reach, "read the bundles of {runs}");
}

/**
 * For a narrowed reach, the idempotency key a child run is created with is one of its parent's
 * (`child:<parent id>:…`, what the SDK sends): another key could name a run that is not its child (and be
 * answered with it), or take a scheduled run's key and so its place.
 */
export function requireChildIdempotencyKey(
  ctx: GraphQLContext,
  parentFlowRunId: string | null | undefined,
  key: string | null | undefined,
): void {
  const reach = reachOf(ctx);
  if (reach.kind === "all" || key === null || key === undefined) return;
  if (!key.startsWith(`child:${parentFlowRunId}:`))
    refuse(
      reach,
      `give child runs idempotency keys that start with child:<parent id>: (got "${key}") for {runs}`,
    );
}

/** For a narrowed reach, a run it is answered with (an idempotent create's existing run) is within it. */
export async function requireReached(ctx: GraphQLContext, run: Record<string, unknown>): Promise<void> {
  const reach = reachOf(ctx);
  if (reach.kind === "all") return;
  if (!(await runReached(ctx, reach, run, true))) refuse(reach, "see {runs}");
}

/** Refuses a narrowed reach (a run's token, a runner key) what spans every run, such as dashboard counts. */
export function requireFullReach(ctx: GraphQLContext, what: string): void {
  const reach = reachOf(ctx);
  if (reach.kind !== "all") refuse(reach, `see {runs}, not ${what}`);
}
