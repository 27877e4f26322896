import { describe, expect, test } from "vitest";
import { agentCanTakeRun, effectiveRunLabels, missingLabels, whyUnclaimed } from "./labels.js";

describe("agentCanTakeRun", () => {
  test.for([
    { run: ["a"], agent: ["a", "b"], accept: false, want: true },
    { run: ["a", "c"], agent: ["a", "b"], accept: false, want: false },
    { run: [], agent: [], accept: false, want: true },
    { run: [], agent: ["a"], accept: false, want: false },
    { run: [], agent: ["a"], accept: true, want: true },
    { run: ["a"], agent: [], accept: true, want: false },
  ])("run $run on agent $agent (accept unlabeled: $accept) → $want", ({ run, agent, accept, want }) => {
    expect(agentCanTakeRun({ runLabels: run, agentLabels: agent, acceptUnlabeled: accept })).toBe(want);
  });
});

describe("effectiveRunLabels", () => {
  test.for([
    { name: "nothing set", input: {}, want: [] },
    { name: "flow only", input: { flowLabels: ["f"] }, want: ["f"] },
    { name: "run config over flow", input: { flowLabels: ["f"], runConfigLabels: ["c"] }, want: ["c"] },
    {
      name: "run over run config and flow",
      input: { flowLabels: ["f"], runConfigLabels: ["c"], runLabels: ["r"] },
      want: ["r"],
    },
    { name: "run over flow", input: { flowLabels: ["f"], runLabels: ["r"] }, want: ["r"] },
    {
      name: "undefined levels fall through",
      input: { flowLabels: ["f"], runConfigLabels: undefined, runLabels: undefined },
      want: ["f"],
    },
    {
      name: "an empty run list is explicit: no labels",
      input: { flowLabels: ["f"], runConfigLabels: ["c"], runLabels: [] },
      want: [],
    },
    {
      name: "an empty run config list is explicit",
      input: { flowLabels: ["f"], runConfigLabels: [] },
      want: [],
    },
    {
      name: "levels replace, never merge",
      input: { flowLabels: ["a", "b"], runConfigLabels: ["c"] },
      want: ["c"],
    },
    {
      name: "deduplicated and sorted",
      input: { runLabels: ["gpu", "eu", "gpu", "amd64", "eu"] },
      want: ["amd64", "eu", "gpu"],
    },
    { name: "sorted by code unit", input: { flowLabels: ["b", "B", "a", "A"] }, want: ["A", "B", "a", "b"] },
  ])("$name → $want", ({ input, want }) => {
    expect(effectiveRunLabels(input)).toEqual(want);
  });

  test("does not mutate its input", () => {
    const runLabels = ["b", "a", "b"];
    effectiveRunLabels({ runLabels });
    expect(runLabels).toEqual(["b", "a", "b"]);
  });
});

describe("missingLabels", () => {
  test.for([
    { run: [], agent: [], want: [] },
    { run: [], agent: ["a"], want: [] },
    { run: ["a"], agent: ["a", "b"], want: [] },
    { run: ["a", "c"], agent: ["a", "b"], want: ["c"] },
    { run: ["c", "a", "d"], agent: [], want: ["c", "a", "d"] },
    { run: ["x", "y"], agent: ["y"], want: ["x"] },
    { run: ["A"], agent: ["a"], want: ["A"] },
  ])("run $run on agent $agent lacks $want", ({ run, agent, want }) => {
    expect(missingLabels(run, agent)).toEqual(want);
  });

  test.for([
    { run: ["a"], agent: ["a", "b"] },
    { run: ["a", "c"], agent: ["a", "b"] },
    { run: ["a", "b"], agent: ["b", "a"] },
  ])("agrees with agentCanTakeRun for labelled run $run on $agent", ({ run, agent }) => {
    expect(missingLabels(run, agent).length === 0).toBe(
      agentCanTakeRun({ runLabels: run, agentLabels: agent }),
    );
  });
});

describe("whyUnclaimed", () => {
  test.each([
    {
      what: "no agent at all: says how to start one with the run's labels",
      labels: ["prod", "ecs"],
      agents: [],
      expected:
        "no agent is running: start one that carries the run's labels [prod, ecs], e.g. `regent agent local start --label prod --label ecs`",
    },
    {
      what: "no agent, unlabeled run",
      labels: [],
      agents: [],
      expected:
        "no agent is running: start one (an agent without labels takes runs without labels), e.g. `regent agent local start`",
    },
    {
      what: "live agents lacking labels: names what each lacks",
      labels: ["prod", "ecs"],
      agents: [
        { name: "a1", labels: ["prod"] },
        { name: "a2", labels: ["dev", "ecs"] },
      ],
      expected:
        "no live agent can take this run: it has [prod, ecs] and an agent must carry every one (a1 lacks ecs; a2 lacks prod)",
    },
    {
      what: "an unlabeled run and labeled agents that do not accept unlabeled runs",
      labels: [],
      agents: [{ name: "a1", labels: ["prod"] }],
      expected:
        "no live agent can take this run: it has no labels and an agent must carry every one (a1 has labels [prod] and does not accept unlabeled runs)",
    },
    {
      what: "an agent that could take it",
      labels: ["prod"],
      agents: [
        { name: "a1", labels: ["prod", "x"] },
        { name: "a2", labels: [] },
      ],
      expected: "not claimed yet, though live agent a1 can take it (busy, at a run limit, or not polling)",
    },
    {
      what: "an unlabeled run and an agent that accepts unlabeled runs",
      labels: [],
      agents: [{ name: "a1", labels: ["x"], acceptUnlabeled: true }],
      expected: "not claimed yet, though live agent a1 can take it (busy, at a run limit, or not polling)",
    },
  ])("$what", ({ labels, agents, expected }) => {
    expect(whyUnclaimed(labels, agents)).toBe(expected);
  });

  test("names five agents and counts the rest", () => {
    const agents = Array.from({ length: 7 }, (_, i) => ({ name: `a${i}`, labels: ["dev"] }));
    expect(whyUnclaimed(["prod"], agents)).toMatch(/a4 lacks prod; and 2 more\)$/);
  });
});
