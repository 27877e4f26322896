import { describe, expect, it } from "vitest";
import { gateRuns, gateTaskRun, type RunAtGate } from "./concurrency.js";

const run = (id: string, over: Partial<RunAtGate> = {}): RunAtGate => ({
  id,
  labels: [],
  flow: "g1",
  flowName: "etl",
  concurrency: null,
  parameters: {},
  ...over,
});

describe("gateRuns", () => {
  it.each([
    {
      what: "no limits: every run starts",
      candidates: [run("a"), run("b")],
      holding: [],
      labels: {},
      admitted: ["a", "b"],
      waiting: {},
    },
    {
      what: "a label limit counts the runs holding it and those admitted before, in order",
      candidates: [
        run("a", { labels: ["db"] }),
        run("b", { labels: ["db", "x"] }),
        run("c", { labels: ["x"] }),
      ],
      holding: [{ ...run("h", { labels: ["db"] }) }],
      labels: { db: 2 },
      admitted: ["a", "c"],
      waiting: { b: 'waiting for a concurrency slot: label "db" allows 2 runs at once (2 active)' },
    },
    {
      what: "a flow limit: runs of other flows are not counted",
      candidates: [
        run("a", { concurrency: { limit: 1 } }),
        run("b", { concurrency: { limit: 1 } }),
        run("c", { flow: "g2", concurrency: { limit: 1 } }),
      ],
      holding: [],
      labels: {},
      admitted: ["a", "c"],
      waiting: { b: "waiting for a concurrency slot: the flow allows 1 at once (1 active)" },
    },
    {
      what: "a limit per key: one run per customer",
      candidates: [
        run("a", { concurrency: { limit: 1, key: "customer" }, parameters: { customer: "acme" } }),
        run("b", { concurrency: { limit: 1, key: "customer" }, parameters: { customer: "initech" } }),
        run("c", { concurrency: { limit: 1, key: "customer" }, parameters: { customer: "acme" } }),
      ],
      holding: [
        { ...run("h", { concurrency: { limit: 1, key: "customer" }, parameters: { customer: "initech" } }) },
      ],
      labels: {},
      admitted: ["a"],
      waiting: {
        b: 'waiting for a concurrency slot: the flow allows 1 at once per customer (1 active with customer = "initech")',
        c: 'waiting for a concurrency slot: the flow allows 1 at once per customer (1 active with customer = "acme")',
      },
    },
    {
      what: "every full limit is named",
      candidates: [run("a", { labels: ["db", "gpu"], concurrency: { limit: 1 } })],
      holding: [{ ...run("h", { labels: ["db", "gpu"], concurrency: { limit: 1 } }) }],
      labels: { db: 1, gpu: 3 },
      admitted: [],
      waiting: {
        a: 'waiting for a concurrency slot: label "db" allows 1 run at once (1 active); the flow allows 1 at once (1 active)',
      },
    },
    {
      what: "a missing key parameter is its own value (null)",
      candidates: [
        run("a", { concurrency: { limit: 1, key: "k" } }),
        run("b", { concurrency: { limit: 1, key: "k" }, parameters: { k: null } }),
      ],
      holding: [],
      labels: {},
      admitted: ["a"],
      waiting: {
        b: "waiting for a concurrency slot: the flow allows 1 at once per k (1 active with k = null)",
      },
    },
  ])("$what", ({ candidates, holding, labels, admitted, waiting }) => {
    const decision = gateRuns(candidates, holding, new Map(Object.entries(labels)));
    expect(decision.admitted).toEqual(admitted);
    expect(Object.fromEntries(decision.waiting)).toEqual(waiting);
  });
});

it("leaves the runs after the last one admitted unjudged once maxAdmitted is reached", () => {
  const runs = ["a", "b", "c"].map((id) => run(id, { labels: ["db"] }));
  const decision = gateRuns(runs, [], new Map([["db", 5]]), 1);
  expect(decision.admitted).toEqual(["a"]);
  expect(decision.waiting.size).toBe(0);
});

describe("gateTaskRun", () => {
  it.each([
    { tags: [], limits: {}, held: {}, expected: null },
    { tags: ["db"], limits: { db: 2 }, held: { db: 1 }, expected: null },
    {
      tags: ["x", "db"],
      limits: { db: 2 },
      held: { db: 2 },
      expected: 'waiting for a concurrency slot: tag "db" allows 2 task runs at once (2 running)',
    },
    { tags: ["db", "db"], limits: { db: 1 }, held: {}, expected: null },
  ])("tags $tags with limits $limits and held $held", ({ tags, limits, held, expected }) => {
    expect(gateTaskRun(tags, new Map(Object.entries(limits)), new Map(Object.entries(held)))).toBe(expected);
  });
});
