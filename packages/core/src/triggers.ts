import { assertNever } from "./assert-never.js";
import { isFailureLike, isFinal, isSuccessLike, type RunStateType } from "./states.js";

/**
 * When a task runs, given the final states of its upstream task runs (Prefect 1's triggers).
 * `always` runs once every upstream is final, whatever its outcome.
 */
export const TRIGGERS = ["allSuccessful", "allFailed", "anySuccessful", "anyFailed", "always"] as const;
export type Trigger = (typeof TRIGGERS)[number];

export type TriggerDecision = "run" | "skip" | "triggerFailed";

/**
 * Pure. With `skipOnUpstreamSkip` (the default), a Skipped upstream skips this task too, before the
 * trigger is looked at. Upstream states must all be final.
 */
export function evaluateTrigger(
  trigger: Trigger,
  upstream: readonly RunStateType[],
  skipOnUpstreamSkip = true,
): TriggerDecision {
  if (upstream.some((s) => !isFinal(s))) {
    throw new Error(`evaluateTrigger needs final upstream states, got ${upstream.join(", ")}`);
  }
  if (upstream.length === 0) return "run";
  if (skipOnUpstreamSkip && upstream.includes("Skipped")) return "skip";
  const ok = (pass: boolean): TriggerDecision => (pass ? "run" : "triggerFailed");
  switch (trigger) {
    case "allSuccessful":
      return ok(upstream.every(isSuccessLike));
    case "allFailed":
      return ok(upstream.every(isFailureLike));
    case "anySuccessful":
      return ok(upstream.some(isSuccessLike));
    case "anyFailed":
      return ok(upstream.some(isFailureLike));
    case "always":
      return "run";
    default:
      return assertNever(trigger, "trigger");
  }
}
