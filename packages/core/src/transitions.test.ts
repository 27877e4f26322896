import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { ALL_STATE_TYPES, FINAL_STATES, isFinal, type RunStateType } from "./states.js";
import {
  decideTransition,
  renderTransitionMatrix,
  TRANSITION_RULES,
  TRANSITIONS,
  type TransitionContext,
  type Verdict,
} from "./transitions.js";

const ALL_PAIRS: readonly (readonly [RunStateType, RunStateType])[] = ALL_STATE_TYPES.flatMap((from) =>
  ALL_STATE_TYPES.map((to) => [from, to] as const),
);
const RULE_NAMES = TRANSITION_RULES.map((r) => r.name);
const MARKABLE: readonly RunStateType[] = ["Success", "Failed", "Cancelled"];

const ctx = (
  from: RunStateType,
  to: RunStateType,
  extra: Partial<TransitionContext> = {},
): TransitionContext => ({
  from,
  to,
  readVersion: 3,
  currentVersion: 3,
  ...extra,
});

interface Expected {
  readonly from: RunStateType;
  readonly to: RunStateType;
  readonly verdict: Verdict;
  readonly rule: string;
}

describe("TRANSITIONS table", () => {
  test("has a row for every state, and no others", () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...ALL_STATE_TYPES].sort());
  });

  test.for(ALL_STATE_TYPES)("%s: row has no duplicates", (from) => {
    expect(new Set(TRANSITIONS[from]).size).toBe(TRANSITIONS[from].length);
  });

  test.for(ALL_STATE_TYPES)("%s: final states have no successors, others have at least one", (from) => {
    if (isFinal(from)) expect(TRANSITIONS[from]).toEqual([]);
    else expect(TRANSITIONS[from].length).toBeGreaterThan(0);
  });

  test("rule names are unique and the stale-version check runs first", () => {
    expect(new Set(RULE_NAMES).size).toBe(RULE_NAMES.length);
    expect(RULE_NAMES[0]).toBe("stale-version");
  });
});

describe("decideTransition: plain writes follow the table", () => {
  const cases: readonly Expected[] = ALL_PAIRS.map(([from, to]) => {
    if (isFinal(from)) return { from, to, verdict: "reject", rule: "final-is-final" };
    if (from === "Running" && to === "Running")
      return { from, to, verdict: "reject", rule: "no-running-to-running" };
    return {
      from,
      to,
      verdict: TRANSITIONS[from].includes(to) ? "accept" : "reject",
      rule: "transition-table",
    };
  });

  test("covers the full product of states", () => {
    expect(cases).toHaveLength(ALL_STATE_TYPES.length ** 2);
  });

  test.for(cases)("$from → $to: $verdict ($rule)", ({ from, to, verdict, rule }) => {
    const d = decideTransition(ctx(from, to));
    expect({ verdict: d.verdict, rule: d.rule }).toEqual({ verdict, rule });
    expect(d.verdict === "accept").toBe(TRANSITIONS[from].includes(to));
    expect(d.reason).not.toBe("");
  });
});

describe("decideTransition: a stale read aborts, whatever the pair", () => {
  test.for(ALL_PAIRS)("%s → %s with a stale version: abort", ([from, to]) => {
    const d = decideTransition(ctx(from, to, { readVersion: 1, currentVersion: 2 }));
    expect({ verdict: d.verdict, rule: d.rule }).toEqual({ verdict: "abort", rule: "stale-version" });
    expect(d.reason).toContain("read version 1, now 2");
  });

  test.for([
    { name: "newer read than store", extra: { readVersion: 5, currentVersion: 4 } },
    { name: "stale restart", extra: { readVersion: 0, currentVersion: 1, restart: true } },
    { name: "stale user mark", extra: { readVersion: 0, currentVersion: 1, userMark: true } },
  ])("$name: abort", ({ extra }) => {
    expect(decideTransition(ctx("Failed", "Scheduled", extra)).verdict).toBe("abort");
    expect(decideTransition(ctx("Running", "Success", extra)).verdict).toBe("abort");
  });
});

describe("decideTransition: restart", () => {
  const cases: readonly Expected[] = ALL_PAIRS.map(([from, to]) => ({
    from,
    to,
    verdict:
      (isFinal(from) && to === "Scheduled") || (from !== "Pending" && to === "Pending") ? "accept" : "reject",
    rule: "restart-from-final",
  }));

  test.for(cases)("restart $from → $to: $verdict", ({ from, to, verdict, rule }) => {
    const d = decideTransition(ctx(from, to, { restart: true }));
    expect({ verdict: d.verdict, rule: d.rule }).toEqual({ verdict, rule });
  });

  test.for([...FINAL_STATES])("every final state restarts to Scheduled: %s", (from) => {
    expect(decideTransition(ctx(from, "Scheduled", { restart: true })).verdict).toBe("accept");
  });

  test.for(ALL_STATE_TYPES.filter((s) => !isFinal(s)))("a non-final state cannot restart: %s", (from) => {
    const d = decideTransition(ctx(from, "Scheduled", { restart: true }));
    expect(d.verdict).toBe("reject");
    expect(d.reason).toContain(`not ${from} → Scheduled`);
  });

  test.for(ALL_STATE_TYPES.filter((s) => s !== "Pending"))(
    "a task run of a restarted flow run goes back to Pending from %s",
    (from) => {
      expect(decideTransition(ctx(from, "Pending", { restart: true })).verdict).toBe("accept");
    },
  );

  test("a task run already Pending is not restarted again", () => {
    expect(decideTransition(ctx("Pending", "Pending", { restart: true })).verdict).toBe("reject");
  });

  test("restart takes precedence over a user mark", () => {
    expect(decideTransition(ctx("Failed", "Scheduled", { restart: true, userMark: true })).rule).toBe(
      "restart-from-final",
    );
  });
});

describe("decideTransition: user mark", () => {
  const cases: readonly Expected[] = ALL_PAIRS.map(([from, to]) => ({
    from,
    to,
    verdict: MARKABLE.includes(to) && from !== to ? "accept" : "reject",
    rule: "user-mark",
  }));

  test.for(cases)("mark $from → $to: $verdict", ({ from, to, verdict, rule }) => {
    const d = decideTransition(ctx(from, to, { userMark: true }));
    expect({ verdict: d.verdict, rule: d.rule }).toEqual({ verdict, rule });
  });

  test.for(MARKABLE)("marking a run that is already %s is rejected", (state) => {
    expect(decideTransition(ctx(state, state, { userMark: true })).reason).toBe(
      `the run is already ${state}`,
    );
  });

  test("marking to a state other than Success, Failed or Cancelled names the state", () => {
    expect(decideTransition(ctx("Running", "Skipped", { userMark: true })).reason).toContain("not Skipped");
  });
});

describe("decideTransition: every decision comes from a named rule", () => {
  const flags: readonly Partial<TransitionContext>[] = [{}, { restart: true }, { userMark: true }];
  test("no pair falls through the rules", () => {
    for (const [from, to] of ALL_PAIRS) {
      for (const extra of flags) expect(RULE_NAMES).toContain(decideTransition(ctx(from, to, extra)).rule);
    }
  });
});

// The committed matrix is checked for drift. After changing TRANSITIONS or the rules, regenerate it
// (from the repo root) with:
//   UPDATE_MATRIX=1 npx vitest run packages/core/src/transitions.test.ts
describe("transition-matrix.md", () => {
  const matrixPath = fileURLToPath(new URL("../transition-matrix.md", import.meta.url));
  const regenerate = "UPDATE_MATRIX=1 npx vitest run packages/core/src/transitions.test.ts";

  test("has a row and a column per state", () => {
    const lines = renderTransitionMatrix().trimEnd().split("\n");
    expect(lines).toHaveLength(ALL_STATE_TYPES.length + 2);
    for (const line of lines) expect(line.split("|")).toHaveLength(ALL_STATE_TYPES.length + 3);
  });

  test("matches the committed file", () => {
    const rendered = renderTransitionMatrix();
    if (process.env.UPDATE_MATRIX === "1") writeFileSync(matrixPath, rendered);
    let committed: string;
    try {
      committed = readFileSync(matrixPath, "utf8");
    } catch {
      throw new Error(`packages/core/transition-matrix.md is missing; generate it with: ${regenerate}`);
    }
    expect(committed, `packages/core/transition-matrix.md is stale; regenerate it with: ${regenerate}`).toBe(
      rendered,
    );
  });
});
