import { z } from "zod";

/**
 * Run states, with Prefect 1 semantics. `Pending` is the initial state of a task run before it is
 * started; flow runs begin `Scheduled`.
 */
export const RUN_STATES = {
  Pending: "Pending",
  Scheduled: "Scheduled",
  Submitted: "Submitted",
  Queued: "Queued",
  Running: "Running",
  Retrying: "Retrying",
  Paused: "Paused",
  Cancelling: "Cancelling",
  Success: "Success",
  Failed: "Failed",
  Cancelled: "Cancelled",
  Skipped: "Skipped",
  TimedOut: "TimedOut",
  TriggerFailed: "TriggerFailed",
  Cached: "Cached",
  Mapped: "Mapped",
} as const;
export type RunStateType = (typeof RUN_STATES)[keyof typeof RUN_STATES];

export const ALL_STATE_TYPES: readonly RunStateType[] = Object.values(RUN_STATES);

/** Final states are left only by an explicit restart (or a user marking a run Success/Failed). */
export const FINAL_STATES: ReadonlySet<RunStateType> = new Set<RunStateType>([
  "Success",
  "Failed",
  "Cancelled",
  "Skipped",
  "TimedOut",
  "TriggerFailed",
  "Cached",
  "Mapped",
]);

/** Final states that count as a success for downstream triggers and for the run's outcome. */
export const SUCCESS_LIKE_STATES: ReadonlySet<RunStateType> = new Set<RunStateType>([
  "Success",
  "Cached",
  "Mapped",
  "Skipped",
]);

/** Final states that count as a failure. */
export const FAILURE_LIKE_STATES: ReadonlySet<RunStateType> = new Set<RunStateType>([
  "Failed",
  "TimedOut",
  "TriggerFailed",
]);

export const isFinal = (type: RunStateType): boolean => FINAL_STATES.has(type);
export const isSuccessLike = (type: RunStateType): boolean => SUCCESS_LIKE_STATES.has(type);
export const isFailureLike = (type: RunStateType): boolean => FAILURE_LIKE_STATES.has(type);

export const RunStateTypeSchema = z.enum(ALL_STATE_TYPES as [RunStateType, ...RunStateType[]]);

export const StateSchema = z.object({
  type: RunStateTypeSchema,
  message: z.string().optional(),
  /** ISO 8601 time the state was entered. */
  timestamp: z.string(),
  /** Extra data, e.g. `startTime` for Scheduled/Retrying. */
  data: z.record(z.string(), z.unknown()).optional(),
  /** Where the result of a successful run is kept, when it was persisted. */
  resultRef: z.string().optional(),
});
export type State = z.infer<typeof StateSchema>;
