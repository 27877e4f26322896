import { z } from "zod";
import type { RunStateType } from "./states.js";

/**
 * A flow's own concurrency limit: at most `limit` runs of the flow at once, or, with `key` (a parameter
 * name), at most `limit` at once per value of that parameter (`{ limit: 1, key: "customerId" }`: one run
 * per customer).
 */
export const FlowConcurrencySchema = z.strictObject({
  limit: z.number().int().min(1),
  key: z.string().min(1).optional(),
});
export type FlowConcurrency = z.infer<typeof FlowConcurrencySchema>;

/** The kinds of limits set on the server: flow runs per label, task runs per tag. */
export const LIMIT_KINDS = ["label", "tag"] as const;
export type LimitKind = (typeof LIMIT_KINDS)[number];

/** Flow-run states that hold a slot of a limit: from a claim until the run ends (or pauses). */
export const SLOT_HOLDING_STATES: readonly RunStateType[] = ["Submitted", "Running", "Cancelling"];

/** A flow run that may start, as the limits see it. */
export interface RunAtGate {
  readonly id: string;
  readonly labels: readonly string[];
  /** The flow (version group) it belongs to, and that flow's name for messages. */
  readonly flow: string;
  readonly flowName: string;
  readonly concurrency: FlowConcurrency | null;
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** Runs holding slots now, in the same shape. */
export type RunHoldingSlot = Omit<RunAtGate, "id" | "flowName">;

export interface GateDecision {
  /** Ids of the runs that may start, in the order given. */
  readonly admitted: readonly string[];
  /** Why each other run waits, by id. */
  readonly waiting: ReadonlyMap<string, string>;
}

/** The slot keys a run takes: one per limited label, its flow's, or its flow's key value. */
function slotsOf(run: RunHoldingSlot, labelLimits: ReadonlyMap<string, number>) {
  const slots: { key: string; limit: number; what: (held: number) => string }[] = [];
  for (const label of run.labels) {
    const limit = labelLimits.get(label);
    if (limit !== undefined)
      slots.push({
        key: `label\0${label}`,
        limit,
        what: (held) =>
          `label "${label}" allows ${limit} run${limit === 1 ? "" : "s"} at once (${held} active)`,
      });
  }
  const c = run.concurrency;
  if (c) {
    if (c.key === undefined) {
      slots.push({
        key: `flow\0${run.flow}`,
        limit: c.limit,
        what: (held) => `the flow allows ${c.limit} at once (${held} active)`,
      });
    } else {
      const value = JSON.stringify(run.parameters[c.key] ?? null);
      slots.push({
        key: `key\0${run.flow}\0${value}`,
        limit: c.limit,
        what: (held) =>
          `the flow allows ${c.limit} at once per ${c.key} (${held} active with ${c.key} = ${value})`,
      });
    }
  }
  return slots;
}

/**
 * Which of `candidates` may start now, in order, given the runs already holding slots: a run is admitted
 * when every limit it falls under (each of its labels with a limit, its flow's limit or its flow's limit
 * per key) has a free slot, and then holds one of each. Every other run gets the reason it waits. Once
 * `maxAdmitted` are admitted the rest are left unjudged (neither admitted nor waiting).
 */
export function gateRuns(
  candidates: readonly RunAtGate[],
  holding: readonly RunHoldingSlot[],
  labelLimits: ReadonlyMap<string, number>,
  maxAdmitted = Number.POSITIVE_INFINITY,
): GateDecision {
  const held = new Map<string, number>();
  for (const run of holding)
    for (const slot of slotsOf(run, labelLimits)) held.set(slot.key, (held.get(slot.key) ?? 0) + 1);
  const admitted: string[] = [];
  const waiting = new Map<string, string>();
  for (const run of candidates) {
    if (admitted.length >= maxAdmitted) break;
    const slots = slotsOf(run, labelLimits);
    const full = slots.filter((s) => (held.get(s.key) ?? 0) >= s.limit);
    if (full.length > 0) {
      waiting.set(
        run.id,
        `waiting for a concurrency slot: ${full.map((s) => s.what(held.get(s.key) ?? 0)).join("; ")}`,
      );
      continue;
    }
    for (const s of slots) held.set(s.key, (held.get(s.key) ?? 0) + 1);
    admitted.push(run.id);
  }
  return { admitted, waiting };
}

/**
 * May a task run with these tags start, given the slots each tag's limit has taken? Null when it may;
 * otherwise why it waits.
 */
export function gateTaskRun(
  tags: readonly string[],
  tagLimits: ReadonlyMap<string, number>,
  held: ReadonlyMap<string, number>,
): string | null {
  const full = [...new Set(tags)].filter((t) => {
    const limit = tagLimits.get(t);
    return limit !== undefined && (held.get(t) ?? 0) >= limit;
  });
  if (full.length === 0) return null;
  return `waiting for a concurrency slot: ${full
    .map(
      (t) =>
        `tag "${t}" allows ${tagLimits.get(t)} task run${tagLimits.get(t) === 1 ? "" : "s"} at once (${held.get(t) ?? 0} running)`,
    )
    .join("; ")}`;
}
