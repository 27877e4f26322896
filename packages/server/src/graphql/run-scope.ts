import { ForbiddenError } from "@regent/core";
import type { TableName } from "../db/tables.js";
import type { GraphQLContext } from "./builder.js";

// What a run's token may reach: its own run and the child runs it starts (flows of flows), their task
// runs, states and logs; flows, projects and tag limits (to find and start children). Nothing else:
// not other runs, agents, notifications or keys. The root fields it may call are RUN_TOKEN_FIELDS (the
// access plugin checks them); the checks below narrow those fields' arguments and rows to the run.

/** Where the run's own rows and its children's are, per table a run token may read. */
const RUN_SCOPED: Partial<Record<TableName, (own: string) => Record<string, unknown>>> = {
  flow_run: (own) => ({ _or: [{ id: { _eq: own } }, { parent_flow_run_id: { _eq: own } }] }),
  task_run: (own) => ({ flow_run: RUN_SCOPED.flow_run!(own) }),
  flow_run_state: (own) => ({ flow_run: RUN_SCOPED.flow_run!(own) }),
  log: (own) => ({ flow_run: RUN_SCOPED.flow_run!(own) }),
  task_run_state: (own) => ({ flow_run_id: { _eq: own } }),
};

/** Tables a run token reads whole: nothing in them belongs to one run. */
const RUN_READABLE: ReadonlySet<TableName> = new Set(["flow", "project", "concurrency_limit"]);

/** Whether the request comes with a run's token; the run's id if so. */
export const tokenRun = (ctx: GraphQLContext): string | undefined => ctx.principal.flowRunId;

/**
 * `where` narrowed to what the request may read of `table`: unchanged for keys; for a run's token, its run
 * and children (or no rows at all, for tables it may not read).
 */
export function scopedWhere(
  ctx: GraphQLContext,
  table: TableName,
  where: Record<string, unknown> | null | undefined,
): Record<string, unknown> | null | undefined {
  const own = tokenRun(ctx);
  if (own === undefined || RUN_READABLE.has(table)) return where;
  const scope = RUN_SCOPED[table]?.(own) ?? { id: { _is_null: true } }; // no rows
  return where ? { _and: [scope, where] } : scope;
}

/** Whether a row (found by id through a loader) is one the request may see. */
export async function rowVisible(
  ctx: GraphQLContext,
  table: TableName,
  row: Record<string, unknown>,
): Promise<boolean> {
  const own = tokenRun(ctx);
  if (own === undefined || RUN_READABLE.has(table)) return true;
  if (table === "flow_run") return row.id === own || row.parent_flow_run_id === own;
  if (!(table in RUN_SCOPED)) return false;
  const runId = row.flow_run_id;
  if (runId === own) return true;
  if (table === "task_run_state" || typeof runId !== "string") return false;
  const run = await ctx.loader("flow_run", "id").load(runId);
  return run?.parent_flow_run_id === own;
}

function refuse(own: string, what: string): never {
  throw new ForbiddenError(`this run's token may only ${what} (its run is ${own})`, { flow_run_id: own });
}

/** For a run's token: every id is its run's. */
export function requireOwnRuns(ctx: GraphQLContext, flowRunIds: Iterable<string>): void {
  const own = tokenRun(ctx);
  if (own === undefined) return;
  for (const id of flowRunIds) if (id !== own) refuse(own, "report for its own run");
}

/** For a run's token: every task run belongs to its run (unknown ids are left to the write to report). */
export async function requireOwnTaskRuns(ctx: GraphQLContext, taskRunIds: readonly string[]): Promise<void> {
  const own = tokenRun(ctx);
  if (own === undefined || taskRunIds.length === 0) return;
  const loader = ctx.loader("task_run", "id");
  const rows = await loader.loadMany([...new Set(taskRunIds)]);
  for (const row of rows) {
    if (row instanceof Error) throw row;
    if (row && row.flow_run_id !== own) refuse(own, "report for its own run's task runs");
  }
}

/** For a run's token: a run it starts is its child. */
export function requireChildOfOwnRun(ctx: GraphQLContext, parentFlowRunId: string | null | undefined): void {
  const own = tokenRun(ctx);
  if (own === undefined) return;
  if (parentFlowRunId !== own) refuse(own, "start child runs of its own run (parent_flow_run_id)");
}

/** For a run's token: the run it acts on is its own or one of its children. */
export async function requireOwnOrChildRun(ctx: GraphQLContext, flowRunId: string): Promise<void> {
  const own = tokenRun(ctx);
  if (own === undefined || flowRunId === own) return;
  const run = await ctx.loader("flow_run", "id").load(flowRunId);
  if (run && run.parent_flow_run_id !== own) refuse(own, "act on its own run and the child runs it started");
}

/** For a run's token: the bundle is its flow's (what its executor loads). */
export async function requireOwnBundle(ctx: GraphQLContext, hash: string): Promise<void> {
  const own = tokenRun(ctx);
  if (own === undefined) return;
  const run = await ctx.loader("flow_run", "id").load(own);
  const flow =
    typeof run?.flow_id === "string" ? await ctx.loader("flow", "id").load(run.flow_id) : undefined;
  const storage = flow?.storage as { bundle?: { hash?: unknown } } | null | undefined;
  if (storage?.bundle?.hash !== hash) refuse(own, "read its own flow's bundle");
}
