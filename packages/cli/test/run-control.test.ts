import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import { expect } from "vitest";
import { startServerWithFlows, useServerDatabases } from "./helpers.js";

const dbFor = useServerDatabases();

const fixtures = new URL("./fixtures/run-control", import.meta.url).pathname;
const calls = (dir: string) => readFileSync(join(dir, "calls.txt"), "utf8").trim().split("\n").sort();
const runIdOf = (output: string) => /\(([0-9a-f-]{36})\)/.exec(output)?.[1];

/** A server with the fixtures registered into project demo, and a local agent; resolves with the API URL. */
async function serverWithAgent(cli: Parameters<typeof startServerWithFlows>[0], tmp: string) {
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), fixtures);
  startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--api", api]);
  return api;
}

/** `regent run --name <flow> --watch` with the test's folder as the flow's `dir`. */
const runWatched = (
  cli: Parameters<typeof startServerWithFlows>[0],
  api: string,
  name: string,
  tmp: string,
) => cli(["run", "--name", name, "--project", "demo", "--param", `dir=${tmp}`, "--watch", "--api", api]);

test("regent restart runs a failed run again from its failed task runs, reusing what succeeded", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);
  writeFileSync(join(tmp, "warehouse-down"), "");
  writeFileSync(join(tmp, "bad-2"), "");

  const first = await runWatched(cli, api, "etl", tmp);
  expect(first.code, first.stdout + first.stderr).toBe(1);
  expect(first.stdout).toMatch(/finished Failed/);
  const id = runIdOf(first.stdout)!;
  // check 2 failed, so load never ran (TriggerFailed).
  expect(calls(tmp)).toEqual(["check 1", "check 2", "check 3", "extract"]);

  // Fixed the row, not the warehouse: the restart runs check 2 and load, and load fails again.
  rmSync(join(tmp, "bad-2"));
  const second = await cli(["restart", id, "--watch", "--api", api]);
  expect(second.code, second.stdout + second.stderr).toBe(1);
  expect(second.stdout).toMatch(/restarted flow run .*: Scheduled; 4 task runs reused, 2 to run again/);
  expect(calls(tmp)).toEqual(["check 1", "check 2", "check 2", "check 3", "extract", "load"]);

  rmSync(join(tmp, "warehouse-down"));
  const third = await cli(["restart", id, "--watch", "--api", api]);
  expect(third.code, third.stdout + third.stderr).toBe(0);
  expect(third.stdout).toMatch(/finished Success/);
  expect(calls(tmp)).toEqual(["check 1", "check 2", "check 2", "check 3", "extract", "load", "load"]);

  const { flow_run_by_pk: run } = await graphqlData(
    api,
    `query($id: uuid!) { flow_run_by_pk(id: $id) {
       state restart_count states(order_by: [{ version: desc }], limit: 1) { data }
       task_runs(order_by: [{ run_key: asc }]) { run_key state attempts }
     } }`,
    { id },
  );
  expect(run.state).toBe("Success");
  expect(run.restart_count).toBe(2);
  expect(run.states[0].data).toEqual({ result: 60 });
  // One task run per call across the three executions; the attempts say which ran again.
  expect(run.task_runs).toEqual([
    { run_key: "check#1", state: "Mapped", attempts: 1 },
    { run_key: "check#1[0]", state: "Success", attempts: 1 },
    { run_key: "check#1[1]", state: "Success", attempts: 2 },
    { run_key: "check#1[2]", state: "Success", attempts: 1 },
    { run_key: "extract#1", state: "Success", attempts: 1 },
    { run_key: "load#1", state: "Success", attempts: 2 },
  ]);

  const refused = await cli(["restart", id, "--api", api]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/nothing to restart; start a new run instead/);
}, 120_000);

test("a paused run holds no process; regent resume goes on from the pause with the input given", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);

  const paused = await runWatched(cli, api, "approve", tmp);
  expect(paused.code, paused.stdout + paused.stderr).toBe(3);
  expect(paused.stdout).toMatch(/Paused: load 3 rows\?/);
  const id = runIdOf(paused.stdout)!;
  expect(paused.stdout).toContain(`go on with: regent resume ${id}`);

  // Nothing runs while it waits: the executor that paused it has exited.
  const pid = Number(readFileSync(join(tmp, "pid"), "utf8"));
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  expect(alive()).toBe(false);
  const { flow_run_by_pk: waiting } = await graphqlData(
    api,
    `query($id: uuid!) { flow_run_by_pk(id: $id) { state states(order_by: [{ version: desc }], limit: 1) { data } } }`,
    { id },
  );
  expect(waiting.state).toBe("Paused");
  expect(Date.parse(waiting.states[0].data.resumeBy)).toBeGreaterThan(Date.now() + 3_500_000);

  const badInput = await cli(["resume", id, "--input", "{approved", "--api", api]);
  expect(badInput.code).toBe(2);
  expect(badInput.stderr).toMatch(/--input must be JSON/);

  const resumed = await cli(["resume", id, "--input", '{"approvedBy": "ada"}', "--watch", "--api", api]);
  expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
  expect(resumed.stdout).toMatch(/resumed flow run .*: Scheduled; 2 task runs reused, 0 to run again/);
  expect(calls(tmp)).toEqual(["count", "load approved by ada"]);
  const { flow_run_by_pk: done } = await graphqlData(
    api,
    `query($id: uuid!) { flow_run_by_pk(id: $id) { state states(order_by: [{ version: desc }], limit: 1) { data } task_runs(order_by: [{ run_key: asc }]) { run_key state result } } }`,
    { id },
  );
  expect(done.state).toBe("Success");
  expect(done.states[0].data).toEqual({ result: "loaded by ada" });
  expect(done.task_runs).toEqual([
    { run_key: "count-rows#1", state: "Success", result: { value: 3 } },
    { run_key: "load#1", state: "Success", result: { value: "loaded by ada" } },
    { run_key: "pause:approve-load#1", state: "Success", result: { value: { approvedBy: "ada" } } },
  ]);

  const again = await cli(["resume", id, "--api", api]);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/only a Paused run is resumed/);
}, 120_000);

test("restarting a flow of flows restarts the child its earlier execution left failed, not a twin", async ({
  cli,
  tmp,
}) => {
  const api = await serverWithAgent(cli, tmp);
  writeFileSync(join(tmp, "child-down"), "");
  const first = await runWatched(cli, api, "chain", tmp);
  expect(first.code, first.stdout + first.stderr).toBe(1);
  const id = runIdOf(first.stdout)!;

  rmSync(join(tmp, "child-down"));
  const second = await cli(["restart", id, "--watch", "--api", api]);
  expect(second.code, second.stdout + second.stderr).toBe(0);
  const { flow_run_by_pk: run } = await graphqlData(
    api,
    `query($id: uuid!) { flow_run_by_pk(id: $id) { state states(order_by: [{ version: desc }], limit: 1) { data } children { state restart_count } } }`,
    { id },
  );
  expect(run.state).toBe("Success");
  expect(run.states[0].data).toEqual({ result: "child said hello" });
  expect(run.children).toEqual([{ state: "Success", restart_count: 1 }]);
}, 120_000);
