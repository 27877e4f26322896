import { effectiveRunLabels, newId } from "@regent/core";
import { encodeRow } from "../db/codec.js";
import type { Dialect } from "../db/database.js";
import type { Row } from "../db/tables.js";

export interface NewRun {
  readonly flow: Pick<Row<"flow">, "id" | "name" | "labels" | "run_config">;
  readonly parameters: Record<string, unknown>;
  readonly context?: Record<string, unknown> | null;
  /** The run's own labels, over the run config's and the flow's. */
  readonly labels?: readonly string[] | null;
  readonly runConfig?: Record<string, unknown> | null;
  readonly name?: string | null;
  /** ISO 8601, normal form. */
  readonly scheduledStartTime: string;
  readonly idempotencyKey?: string | null;
  readonly autoScheduled?: boolean;
  /** The flow run that started this one. */
  readonly parentFlowRunId?: string | null;
  /** Its own maximum duration (ms), over the flow's timeout. */
  readonly timeoutMs?: number | null;
  readonly message?: string;
  /** ISO 8601, normal form. */
  readonly now: string;
}

/**
 * The encoded rows of a new Scheduled flow run and of its first history entry: one shape for runs made
 * by create_flow_run, by the scheduler and by a backfill.
 */
export function newRunRows(dialect: Dialect, run: NewRun) {
  const id = newId();
  const runConfig = run.runConfig ?? null;
  const message = run.message ?? "created";
  const labels = effectiveRunLabels({
    flowLabels: run.flow.labels as string[],
    runConfigLabels:
      (runConfig as { labels?: string[] } | null)?.labels ??
      (run.flow.run_config as { labels?: string[] } | null)?.labels,
    runLabels: run.labels ?? undefined,
  });
  const flowRun = encodeRow("flow_run", dialect, {
    id,
    flow_id: run.flow.id,
    name: run.name?.trim() || `${run.flow.name as string}-${id.slice(-8)}`,
    parameters: run.parameters,
    context: run.context ?? {},
    labels,
    run_config: runConfig,
    scheduled_start_time: run.scheduledStartTime,
    state: "Scheduled",
    state_message: message,
    state_version: 1,
    state_timestamp: run.now,
    idempotency_key: run.idempotencyKey ?? null,
    restart_count: 0,
    lazarus_count: 0,
    auto_scheduled: run.autoScheduled ?? false,
    parent_flow_run_id: run.parentFlowRunId ?? null,
    timeout_ms: run.timeoutMs ?? null,
    created: run.now,
    updated: run.now,
  });
  const state = encodeRow("flow_run_state", dialect, {
    id: newId(),
    flow_run_id: id,
    state: "Scheduled",
    message,
    timestamp: run.now,
    data: { startTime: run.scheduledStartTime },
    version: 1,
  });
  return { id, flowRun, state };
}
