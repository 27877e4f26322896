import { BACKENDS, graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import { startServerWithFlows, until, useServerDatabases } from "./helpers.js";

// Concurrency limits end to end: the server, a local agent that could run everything at once, and the
// executors asking for tag slots.

const dbFor = useServerDatabases();
const gql = graphqlData;
const fixtures = new URL("./fixtures/concurrency", import.meta.url).pathname;

const FINAL = new Set(["Success", "Failed", "Cancelled", "TimedOut", "Skipped"]);

/** The most runs between Running and their final state at any one time, from their state histories. */
function mostAtOnce(histories: readonly { state: string; timestamp: string }[][]): number {
  const events: [number, number][] = [];
  for (const states of histories) {
    const start = states.find((s) => s.state === "Running");
    const end = states.find((s) => FINAL.has(s.state));
    if (!start || !end) throw new Error(`a run without Running and a final state: ${JSON.stringify(states)}`);
    events.push([Date.parse(start.timestamp), 1], [Date.parse(end.timestamp), -1]);
  }
  // At equal times an end comes before a start: a slot handed over is not two runs at once.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of events) {
    now += d;
    most = Math.max(most, now);
  }
  return most;
}

for (const backend of BACKENDS) {
  describe(`concurrency limits with the server and a local agent on ${backend}`, () => {
    test("a tag limit holds task runs across executors; a flow's limit holds its runs", async ({
      cli,
      tmp,
    }) => {
      const api = await startServerWithFlows(cli, await dbFor(backend, tmp), fixtures);
      const set = await cli(["limit", "set", "tag", "db", "2", "--api", api]);
      expect(set.stdout).toBe("tag db: at most 2 at once\n");
      const list = await cli(["limit", "list", "--api", api]);
      expect(list.stdout).toMatch(/^kind +name +limit +updated\ntag +db +2 /);
      startRegentProcess([
        "agent",
        "local",
        "start",
        "--accept-unlabeled",
        "--max-concurrent",
        "8",
        "--prestarted",
        "0",
        "--api",
        api,
      ]);

      // Two runs of "tagged" at once: twelve task runs of tag db, two at a time across both executors.
      const { flow } = await gql(api, `{ flow(order_by: [{ name: asc }]) { id name } }`);
      const id = (name: string) => flow.find((f: any) => f.name === name).id;
      const create = `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`;
      const tagged = [
        (await gql(api, create, { id: id("tagged") })).create_flow_run.id,
        (await gql(api, create, { id: id("tagged") })).create_flow_run.id,
      ];
      const limited: string[] = [];
      for (let i = 0; i < 4; i++)
        limited.push((await gql(api, create, { id: id("limited") })).create_flow_run.id);
      const runs = await until(
        "all runs to end",
        async () => {
          const { flow_run } = await gql(
            api,
            `{ flow_run { id state flow { name } states(order_by: [{ version: asc }]) { state message timestamp }
             task_runs(where: { task_name: { _eq: "query" }, map_index: { _gte: 0 } }) { states(order_by: [{ version: asc }]) { state message timestamp } } } }`,
          );
          return flow_run.every((r: any) => FINAL.has(r.state)) ? flow_run : undefined;
        },
        90_000,
      );
      expect(runs.map((r: any) => r.state)).toEqual(Array(6).fill("Success"));

      const taskHistories = runs
        .filter((r: any) => tagged.includes(r.id))
        .flatMap((r: any) => r.task_runs.map((t: any) => t.states));
      expect(taskHistories).toHaveLength(12);
      expect(mostAtOnce(taskHistories)).toBe(2);
      const queuedTask = taskHistories.flat().find((s: any) => s.state === "Queued");
      expect(queuedTask?.message).toMatch(
        /^waiting for a concurrency slot: tag "db" allows 2 task runs at once/,
      );

      const flowHistories = runs.filter((r: any) => limited.includes(r.id)).map((r: any) => r.states);
      expect(mostAtOnce(flowHistories)).toBeLessThanOrEqual(2);
      const queuedRun = flowHistories.flat().find((s: any) => s.state === "Queued");
      expect(queuedRun?.message).toBe("waiting for a concurrency slot: the flow allows 2 at once (2 active)");
    }, 150_000);
  });
}
