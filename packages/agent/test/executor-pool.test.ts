import { BACKENDS } from "@regent/testkit";
import { describe, expect, test as plainTest } from "vitest";
import { startLocalAgent } from "../src/index.js";
import { agentTest, FAKE_EXECUTOR, isAlive, waitForPids } from "./helpers.js";

for (const backend of BACKENDS) {
  describe(`pre-started executors, local agent on ${backend}`, () => {
    const test = agentTest(backend);

    test("a run that sets variables Node reads at start-up gets a process of its own", async ({ h, tmp }) => {
      const plain = await h.seedFlow("plain");
      const nodeOptions = await h.seedFlow("node-options", {
        run_config: { type: "local", env: { NODE_OPTIONS: "--no-deprecation" } },
      });
      const agent = await h.startAgent({ prestarted: 1 });
      await waitForPids(tmp, 1);
      const fresh = await h.createRun(nodeOptions);
      await h.waitForState(fresh.id, "Success");
      expect(agent.lines).toContain(`[${fresh.name}] fake executor: success`);
      // The pre-started executor is still there for the next run.
      const next = await h.createRun(plain);
      await h.waitForState(next.id, "Success");
      expect(agent.lines).toContain(`[${next.name}] fake executor: success (pre-started)`);
    });

    test("the replacement for an executor taken for a flow loads that flow; a run of another flow trades for it", async ({
      h,
      tmp,
    }) => {
      const a = await h.seedFlow("a");
      const b = await h.seedFlow("b");
      const agent = await h.startAgent({ prestarted: 1 });
      await waitForPids(tmp, 1);
      const said = async (flowId: string) => {
        const run = await h.createRun(flowId);
        await h.waitForState(run.id, "Success");
        const line = await agent.waitForLine(new RegExp(`^\\[${run.name}\\] fake executor: `));
        return line.slice(run.name.length + 3);
      };
      expect(await said(a)).toBe("fake executor: success (pre-started)");
      await waitForPids(tmp, 2);
      expect(await said(a)).toBe(`fake executor: success (pre-started for ${a})`);
      await waitForPids(tmp, 3);
      // None ready for b: a process of its own, and the pool trades its executor for one that loads b.
      expect(await said(b)).toBe("fake executor: success");
      await waitForPids(tmp, 5);
      expect(await said(b)).toBe(`fake executor: success (pre-started for ${b})`);
    });

    test("a run that sets env of its own is not given an executor that loaded its flow without it", async ({
      h,
      tmp,
    }) => {
      const a = await h.seedFlow("a");
      const agent = await h.startAgent({ prestarted: 1 });
      await waitForPids(tmp, 1);
      const said = async (input?: Record<string, unknown>) => {
        const run = await h.createRun(a, input);
        await h.waitForState(run.id, "Success");
        const line = await agent.waitForLine(new RegExp(`^\\[${run.name}\\] fake executor: `));
        return line.slice(run.name.length + 3);
      };
      expect(await said()).toBe("fake executor: success (pre-started)");
      const [, loadedA] = await waitForPids(tmp, 2);
      expect(await said({ run_config: { env: { OWN: "1" } } })).toBe("fake executor: success");
      // The executor that loaded a is kept for the next run that adds nothing.
      expect(isAlive(loadedA!)).toBe(true);
      expect(await said()).toBe(`fake executor: success (pre-started for ${a})`);
    });

    test("a pre-started executor killed mid-run fails the run, naming the signal", async ({ h, tmp }) => {
      const flowId = await h.seedFlow("sigkill", {
        run_config: { type: "local", env: { FAKE_MODE: "sigkill" } },
        max_restarts: 0,
      });
      const agent = await h.startAgent({ prestarted: 1 });
      await waitForPids(tmp, 1);
      const run = await h.createRun(flowId);
      const failed = await h.waitForState(run.id, "Failed");
      expect(failed.state_message).toBe(
        "the flow-run process was killed by signal SIGKILL without reaching a final state (Lazarus is off for this flow: max_restarts 0)",
      );
      expect(agent.lines).toContain(`[${run.name}] fake executor: sigkill (pre-started)`);
    });

    test("executors that keep dying while idle turn the pool off, saying why; runs still run", async ({
      h,
    }) => {
      const flowId = await h.seedFlow("plain");
      const agent = await h.startAgent({ prestarted: 2, env: { FAKE_IDLE_EXIT: "7" } });
      const off = await agent.waitForLine(/executor pool: .* the pool is off/);
      expect(off).toMatch(
        /3 pre-started executors in a row ended before a run \(the last exited with code 7\)/,
      );
      const run = await h.createRun(flowId);
      await h.waitForState(run.id, "Success");
      expect(agent.lines).toContain(`[${run.name}] fake executor: success`);
    });

    test("stop() lets the idle executors go", async ({ h, tmp }) => {
      const agent = await h.startAgent({ prestarted: 3 });
      const pids = await waitForPids(tmp, 3);
      expect(pids.every(isAlive)).toBe(true);
      await agent.stop();
      expect(pids.filter(isAlive)).toEqual([]);
      expect(agent.lines.filter((l) => l.startsWith("[executor pool]"))).toEqual([]);
    });
  });
}

plainTest.for([-1, 1.5, 101])("prestarted %s is refused", async (prestarted) => {
  await expect(
    startLocalAgent({
      apiUrl: "http://127.0.0.1:9",
      name: "x",
      labels: [],
      executorCommand: [process.execPath, FAKE_EXECUTOR],
      prestarted,
      log: () => {},
    }),
  ).rejects.toThrow(/prestarted must be a whole number from 0 to 100/);
});
