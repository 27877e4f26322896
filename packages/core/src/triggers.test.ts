import { describe, expect, test } from "vitest";
import type { RunStateType } from "./states.js";
import { evaluateTrigger, type Trigger, type TriggerDecision } from "./triggers.js";

type Row = [Trigger, RunStateType[], TriggerDecision];

const rows: Row[] = [
  ["allSuccessful", [], "run"],
  ["allSuccessful", ["Success", "Cached", "Mapped"], "run"],
  ["allSuccessful", ["Success", "Failed"], "triggerFailed"],
  ["allSuccessful", ["TimedOut"], "triggerFailed"],
  ["allSuccessful", ["TriggerFailed"], "triggerFailed"],
  ["allSuccessful", ["Cancelled"], "triggerFailed"],
  ["allSuccessful", ["Success", "Skipped"], "skip"],
  ["allFailed", ["Failed", "TimedOut"], "run"],
  ["allFailed", ["Failed", "Success"], "triggerFailed"],
  ["anySuccessful", ["Failed", "Success"], "run"],
  ["anySuccessful", ["Failed", "TimedOut"], "triggerFailed"],
  ["anyFailed", ["Success", "Failed"], "run"],
  ["anyFailed", ["Success", "Cached"], "triggerFailed"],
  ["always", ["Failed", "Cancelled", "Success"], "run"],
  ["always", ["Skipped"], "skip"],
];

describe("evaluateTrigger", () => {
  test.for(rows)("%s over %j → %s", ([trigger, upstream, want]) => {
    expect(evaluateTrigger(trigger, upstream)).toBe(want);
  });

  test("with skipOnUpstreamSkip off, Skipped counts as success-like", () => {
    expect(evaluateTrigger("allSuccessful", ["Skipped", "Success"], false)).toBe("run");
    expect(evaluateTrigger("anyFailed", ["Skipped"], false)).toBe("triggerFailed");
  });

  test("refuses upstream states that are not final", () => {
    expect(() => evaluateTrigger("always", ["Running"])).toThrow(/needs final upstream states/);
  });
});
