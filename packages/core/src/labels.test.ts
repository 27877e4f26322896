import { describe, expect, test } from "vitest";
import { agentCanTakeRun, effectiveRunLabels, missingLabels } from "./labels.js";

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
