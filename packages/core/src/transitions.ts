import { ALL_STATE_TYPES, isFinal, type RunStateType } from "./states.js";

/**
 * Which state may follow which, before the rules below look at context. A final state has no
 * successors here: leaving one needs an explicit restart or a user's mark (see `decideTransition`).
 */
export const TRANSITIONS: Readonly<Record<RunStateType, readonly RunStateType[]>> = {
  Pending: [
    "Scheduled",
    "Submitted",
    "Queued",
    "Running",
    "Paused",
    "Cancelling",
    "Skipped",
    "Cancelled",
    "TriggerFailed",
    "Cached",
    "Failed",
    "Mapped",
  ],
  Scheduled: [
    "Scheduled",
    "Submitted",
    "Queued",
    "Running",
    "Paused",
    "Cancelling",
    "Cancelled",
    "Skipped",
    "Failed",
  ],
  Submitted: ["Queued", "Running", "Scheduled", "Cancelling", "Cancelled", "Failed"],
  Queued: ["Queued", "Submitted", "Running", "Scheduled", "Cancelling", "Cancelled", "Failed"],
  Running: [
    "Success",
    "Failed",
    "TimedOut",
    "Retrying",
    "Paused",
    "Cancelling",
    "Cancelled",
    "Skipped",
    "Cached",
    "Mapped",
    "Scheduled",
    "TriggerFailed",
  ],
  Retrying: ["Running", "Cancelling", "Cancelled", "Failed", "Scheduled"],
  // Success: a pause() gate approved by resume.
  Paused: ["Running", "Scheduled", "Success", "Cancelling", "Cancelled", "Failed"],
  Cancelling: ["Cancelled", "Failed"],
  Success: [],
  Failed: [],
  Cancelled: [],
  Skipped: [],
  TimedOut: [],
  TriggerFailed: [],
  Cached: [],
  Mapped: [],
};

export type Verdict = "accept" | "reject" | "abort" | "wait";

export interface TransitionContext {
  readonly from: RunStateType;
  readonly to: RunStateType;
  /** The version of the state the writer read; the current version is what the store holds now. */
  readonly readVersion: number;
  readonly currentVersion: number;
  /**
   * Set by `restart` and `resume`: the one path (with a user's mark) that leaves a final state. A flow run
   * goes from a final state to Scheduled; a task run of it, from any state but Pending back to Pending
   * (its flow run is final, so a Running one is an orphan of an executor that is gone).
   */
  readonly restart?: boolean;
  /** A user marking a run Success or Failed from the UI or API. */
  readonly userMark?: boolean;
}

export interface TransitionDecision {
  readonly verdict: Verdict;
  readonly rule: string;
  readonly reason: string;
}

export interface TransitionRule {
  readonly name: string;
  /** Does this rule look at the pair at all? */
  readonly applies: (ctx: TransitionContext) => boolean;
  /** Pure: no I/O, no clock. */
  readonly decide: (ctx: TransitionContext) => TransitionDecision | undefined;
}

const decision = (rule: string, verdict: Verdict, reason: string): TransitionDecision => ({
  verdict,
  rule,
  reason,
});

/** Ordered: the first rule that decides wins. */
export const TRANSITION_RULES: readonly TransitionRule[] = [
  {
    name: "stale-version",
    applies: () => true,
    decide: (c) =>
      c.readVersion !== c.currentVersion
        ? decision(
            "stale-version",
            "abort",
            `state changed since it was read (read version ${c.readVersion}, now ${c.currentVersion}); read it again`,
          )
        : undefined,
  },
  {
    name: "restart-from-final",
    applies: (c) => c.restart === true,
    decide: (c) =>
      (isFinal(c.from) && c.to === "Scheduled") || (c.from !== "Pending" && c.to === "Pending")
        ? decision("restart-from-final", "accept", `restart from ${c.from}`)
        : decision(
            "restart-from-final",
            "reject",
            `a restart takes a flow run from a final state to Scheduled, or a task run back to Pending, not ${c.from} → ${c.to}`,
          ),
  },
  {
    name: "user-mark",
    applies: (c) => c.userMark === true,
    decide: (c) =>
      c.to === "Success" || c.to === "Failed" || c.to === "Cancelled"
        ? c.from === c.to
          ? decision("user-mark", "reject", `the run is already ${c.from}`)
          : decision("user-mark", "accept", `marked ${c.to} by a user`)
        : decision("user-mark", "reject", `a user may mark a run Success, Failed or Cancelled, not ${c.to}`),
  },
  {
    name: "final-is-final",
    applies: (c) => isFinal(c.from),
    decide: (c) =>
      decision(
        "final-is-final",
        "reject",
        `${c.from} is final; only a restart or a user's mark leaves it (asked ${c.to})`,
      ),
  },
  {
    name: "no-running-to-running",
    applies: (c) => c.from === "Running" && c.to === "Running",
    decide: () => decision("no-running-to-running", "reject", "the run is already Running"),
  },
  {
    name: "transition-table",
    applies: () => true,
    decide: (c) =>
      TRANSITIONS[c.from].includes(c.to)
        ? decision("transition-table", "accept", `${c.from} → ${c.to}`)
        : decision("transition-table", "reject", `${c.from} → ${c.to} is not a valid transition`),
  },
];

export function decideTransition(ctx: TransitionContext): TransitionDecision {
  for (const rule of TRANSITION_RULES) {
    if (!rule.applies(ctx)) continue;
    const d = rule.decide(ctx);
    if (d) return d;
  }
  // The table rule always decides; this keeps the function total for the type checker.
  return decision("none", "reject", `${ctx.from} → ${ctx.to}: no rule decided`);
}

/** The plain table as a Markdown matrix (rows: from, columns: to); committed and checked for drift. */
export function renderTransitionMatrix(): string {
  const header = `| from \\ to | ${ALL_STATE_TYPES.join(" | ")} |`;
  const sep = `|${" --- |".repeat(ALL_STATE_TYPES.length + 1)}`;
  const rows = ALL_STATE_TYPES.map((from) => {
    const cells = ALL_STATE_TYPES.map((to) => {
      const d = decideTransition({ from, to, readVersion: 0, currentVersion: 0 });
      return d.verdict === "accept" ? "✓" : "·";
    });
    return `| ${from} | ${cells.join(" | ")} |`;
  });
  return `${[header, sep, ...rows].join("\n")}\n`;
}
