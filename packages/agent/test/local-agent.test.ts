import { mkdirSync, realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { startServer } from "@regent/server";
import { BACKENDS } from "@regent/testkit";
import { describe, expect, test as plainTest } from "vitest";
import { startLocalAgent } from "../src/index.js";
import { agentTest, isAlive, launchedPids, waitFor, waitForPids } from "./helpers.js";

const PRINTED = "AGENT_VAR,FLOW_VAR,RUN_VAR,SHARED,REGENT__API,REGENT__FLOW_RUN_ID,REGENT__API_KEY";

for (const backend of BACKENDS) {
  describe(`local agent on ${backend}`, () => {
    const test = agentTest(backend);

    test("registers as a local agent with its labels and heartbeats", async ({ h }) => {
      const agent = await h.startAgent({ name: "lab", labels: ["prod", "eu"], heartbeatMs: 100 });
      const read = async () =>
        (
          await h.ok(
            `query($id: uuid!) { agent_by_pk(id: $id) { name type labels accept_unlabeled last_seen } }`,
            { id: agent.id },
          )
        ).agent_by_pk;
      const first = await read();
      expect(first).toMatchObject({
        name: "lab",
        type: "local",
        labels: ["eu", "prod"],
        accept_unlabeled: false,
      });
      await waitFor(
        "a newer heartbeat",
        async () => ((await read()).last_seen > first.last_seen ? true : undefined),
        5_000,
      );
    });

    for (const { prestarted, how } of [
      { prestarted: 0, how: "a process started for it" },
      { prestarted: 1, how: "a pre-started executor" },
    ])
      test(`launches a claimed run (${how}) with the agent's, the flow's and the run's environment, in its working directory`, async ({
        h,
        tmp,
      }) => {
        const workDir = join(tmp, "work");
        mkdirSync(workDir);
        const flowId = await h.seedFlow("env", {
          run_config: { type: "local", env: { FLOW_VAR: "flow", SHARED: "flow" } },
        });
        // A real runner key: the server checks every key it is sent, even where keys are not required.
        const { key } = await h.server.store.apiKeys.create({ name: "agent", scope: "runner" });
        const agent = await h.startAgent({
          prestarted,
          apiKey: key,
          env: { AGENT_VAR: "agent", SHARED: "agent", FAKE_PRINT_ENV: PRINTED },
        });
        const [preStarted] = await waitForPids(tmp, prestarted);
        const run = await h.createRun(flowId, {
          run_config: {
            env: {
              RUN_VAR: "run",
              SHARED: "run",
              REGENT__FLOW_RUN_ID: "spoofed",
              REGENT__API: "http://spoofed",
            },
            workingDir: workDir,
          },
        });
        await h.waitForState(run.id, "Success");
        await agent.waitForLine(/ended Success/);
        const printed = agent.lines
          .filter((l) => l.startsWith(`[${run.name}] `))
          .map((l) => l.slice(run.name.length + 3));
        expect(printed).toEqual(
          expect.arrayContaining([
            "env AGENT_VAR=agent",
            "env FLOW_VAR=flow",
            "env RUN_VAR=run",
            "env SHARED=run", // the run's config over the flow's over the agent's
            `env REGENT__API=${h.server.url}`, // the agent's own variables win
            `env REGENT__FLOW_RUN_ID=${run.id}`,
            // The run's own token, never the agent's key.
            `env REGENT__API_KEY=${await h.server.store.runTokens.mint(run.id)}`,
            `cwd ${realpathSync(workDir)}`,
            `fake executor: success${prestarted ? " (pre-started)" : ""}`, // stderr too
          ]),
        );
        expect(h.launches()).toEqual([run.id]);
        expect((await h.run(run.id)).agent_id).toBe(agent.id);
        const { flow_run_state } = await h.ok(
          `query($id: uuid!) { flow_run_state(where: { flow_run_id: { _eq: $id } }, order_by: [{ version: asc }]) { state } }`,
          { id: run.id },
        );
        expect(flow_run_state.map((s: { state: string }) => s.state)).toEqual([
          "Scheduled",
          "Submitted",
          "Running",
          "Success",
        ]);
        // The agent's key reaches the run's process nowhere, not even while a pre-started one waits.
        expect(printed.join("\n")).not.toContain(key);
        if (prestarted) {
          expect(agent.lines).toContain(`[${run.name}] waiting with key <unset>`);
          // The run went to the executor started before it; the pool started a replacement.
          expect(launchedPids(agent.lines)).toEqual([preStarted]);
          const [, replacement] = await waitForPids(tmp, 2);
          expect(isAlive(replacement!)).toBe(true);
        }
      });

    test("a process that exits without a final state fails the run with its exit code (Lazarus off)", async ({
      h,
    }) => {
      const flowId = await h.seedFlow("exit3", {
        run_config: { type: "local", env: { FAKE_MODE: "exit3" } },
        max_restarts: 0,
      });
      const agent = await h.startAgent();
      const run = await h.createRun(flowId);
      const failed = await h.waitForState(run.id, "Failed");
      expect(failed.state_message).toBe(
        "the flow-run process exited with code 3 without reaching a final state (Lazarus is off for this flow: max_restarts 0)",
      );
      expect((await h.stateData(run.id, "Failed")).data).toEqual({
        infrastructure: true,
        exitCode: 3,
        signal: null,
      });
      await agent.waitForLine(/Failed: the flow-run process exited with code 3/);
    });

    test("a process killed by a signal is relaunched by Lazarus, then fails the run naming the signal", async ({
      h,
    }) => {
      const flowId = await h.seedFlow("sigkill", {
        run_config: { type: "local", env: { FAKE_MODE: "sigkill" } },
      });
      await h.startAgent();
      const run = await h.createRun(flowId);
      const failed = await h.waitForState(run.id, "Failed");
      expect(failed.state_message).toBe(
        "the flow-run process was killed by signal SIGKILL without reaching a final state; Lazarus gave up after 3 restarts",
      );
      expect((await h.run(run.id)).restart_count).toBe(3);
      expect((await h.stateData(run.id, "Failed")).data).toEqual({
        infrastructure: true,
        exitCode: null,
        signal: "SIGKILL",
      });
    });

    test("a process that cannot be started fails the run with the spawn error", async ({ h }) => {
      const flowId = await h.seedFlow("nowhere");
      await h.startAgent({ executorCommand: ["/nonexistent/regent-executor", "execute", "flow-run"] });
      const run = await h.createRun(flowId);
      const failed = await h.waitForState(run.id, "Failed");
      expect(failed.state_message).toMatch(
        /^the flow-run process could not be started: spawn \/nonexistent\/regent-executor ENOENT/,
      );
      const { data } = await h.stateData(run.id, "Failed");
      expect(data).toMatchObject({
        infrastructure: true,
        exitCode: null,
        signal: null,
        error: { code: "INFRASTRUCTURE_FAILURE" },
      });

      const elsewhere = await h.createRun(flowId, { run_config: { workingDir: "/nonexistent/work" } });
      expect((await h.waitForState(elsewhere.id, "Failed")).state_message).toMatch(
        /could not be started: its working directory \/nonexistent\/work does not exist/,
      );
    });

    test("a run config a local agent cannot launch fails the run as a user error", async ({ h }) => {
      const flowId = await h.seedFlow("docker", { run_config: { type: "docker", image: "x" } });
      await h.startAgent();
      const run = await h.createRun(flowId);
      const failed = await h.waitForState(run.id, "Failed");
      expect(failed.state_message).toMatch(/cannot be launched by a local agent: .*type "docker"/);
      expect((await h.stateData(run.id, "Failed")).data).toMatchObject({
        infrastructure: false,
        error: { code: "INVALID_CONFIG" },
      });
      expect(h.launches()).toEqual([]);
    });

    test("an agent launches only runs whose labels it carries", async ({ h }) => {
      const prodFlow = await h.seedFlow("prod-flow", { labels: ["prod"] });
      const bareFlow = await h.seedFlow("bare-flow", { labels: [] });
      const gpu = await h.startAgent({ labels: ["gpu"], pollIntervalMs: 100 });
      const prodRun = await h.createRun(prodFlow);
      const bareRun = await h.createRun(bareFlow);
      await new Promise((r) => setTimeout(r, 1_000)); // ten polls and the wake-ups
      expect((await h.run(prodRun.id)).state).toBe("Scheduled");
      expect((await h.run(bareRun.id)).state).toBe("Scheduled");
      expect(h.launches()).toEqual([]);
      expect(gpu.lines.filter((l) => l.includes("launched"))).toEqual([]);

      await h.startAgent({ labels: ["gpu"], acceptUnlabeled: true });
      await h.waitForState(bareRun.id, "Success");
      expect((await h.run(prodRun.id)).state).toBe("Scheduled");

      await h.startAgent({ labels: ["prod", "gpu"] });
      await h.waitForState(prodRun.id, "Success");
      expect(h.launches().sort()).toEqual([bareRun.id, prodRun.id].sort());
    });

    test("a run created after the agent started is launched through the subscription, not the poll", async ({
      h,
    }) => {
      const flowId = await h.seedFlow("wake");
      await h.startAgent({ pollIntervalMs: 60_000 });
      const started = Date.now();
      const run = await h.createRun(flowId);
      await waitFor("the launch", () => (h.launches().includes(run.id) ? true : undefined), 5_000);
      expect(Date.now() - started).toBeLessThan(5_000); // the poll would take 60 s
      await h.waitForState(run.id, "Success");
    });

    test("the agent subscribes again when the stream drops", async ({ h }) => {
      const flowId = await h.seedFlow("reconnect");
      const agent = await h.startAgent({ pollIntervalMs: 60_000 });
      await h.restartServer();
      await agent.waitForLine(/claimable_flow_runs subscription (dropped|failed)/, 5_000);
      await agent.waitForLine(/subscribed to claimable flow runs again/, 10_000);
      const run = await h.createRun(flowId);
      await waitFor("the launch", () => (h.launches().includes(run.id) ? true : undefined), 5_000);
      await h.waitForState(run.id, "Success");
    });

    test("a claim whose answer is lost on the way: the agent gives the run back, then launches it once", async ({
      h,
    }) => {
      const flowId = await h.seedFlow("lossy");
      const run = await h.createRun(flowId);
      // Between the agent and the server: forwards everything, but cuts the connection instead of
      // returning the first claim that handed over a run (taken on the server, never heard of by the agent).
      let dropped: string | undefined;
      const proxy = createServer((req, res) => {
        forward(req, res).catch(() => req.socket.destroy()); // the server closing under it at the end
      });
      const forward = async (req: IncomingMessage, res: ServerResponse) => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        const upstream = await fetch(new URL(req.url ?? "/", h.server.url), {
          method: req.method ?? "GET",
          headers: { "content-type": req.headers["content-type"] ?? "application/json" },
          ...(req.method === "POST" ? { body } : {}),
        });
        const text = await upstream.text();
        const claimed = /"claim_flow_runs":\{"flow_runs":\[\{"id":"([0-9a-f-]{36})"/.exec(text)?.[1];
        if (claimed && !dropped) {
          dropped = claimed;
          req.socket.destroy();
          return;
        }
        res.writeHead(upstream.status, {
          "content-type": upstream.headers.get("content-type") ?? "text/plain",
        });
        res.end(text);
      };
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = proxy.address() as AddressInfo;
        const agent = await h.startAgent({ apiUrl: `http://127.0.0.1:${port}`, pollIntervalMs: 200 });
        await agent.waitForLine(/gave flow run .* back: the answer to its claim was lost/, 10_000);
        await h.waitForState(run.id, "Success");
        expect(dropped).toBe(run.id);
        expect(h.launches()).toEqual([run.id]);
        const { flow_run_by_pk } = await h.ok(
          `query($id: uuid!) { flow_run_by_pk(id: $id) { restart_count states(order_by: [{ version: asc }]) { state message } } }`,
          { id: run.id },
        );
        expect(flow_run_by_pk.restart_count).toBe(0);
        expect(flow_run_by_pk.states.map((s: { state: string }) => s.state)).toEqual([
          "Scheduled",
          "Submitted",
          "Scheduled",
          "Submitted",
          "Running",
          "Success",
        ]);
        expect(flow_run_by_pk.states[2].message).toMatch(/never got the answer to its claim/);
      } finally {
        proxy.closeAllConnections();
        proxy.close();
      }
    });

    test("two agents with the same labels launch each of 200 runs exactly once", {
      timeout: 120_000,
    }, async ({ h }) => {
      const flowId = await h.seedFlow("many");
      // One of them hands runs to pre-started executors when it has some ready.
      const [a, b] = await Promise.all([
        h.startAgent({ name: "a", maxConcurrent: 8, prestarted: 2 }),
        h.startAgent({ name: "b", maxConcurrent: 8 }),
      ]);
      const ids: string[] = [];
      for (let i = 0; i < 200; i += 20) {
        const batch = await Promise.all(Array.from({ length: 20 }, () => h.createRun(flowId)));
        ids.push(...batch.map((r) => r.id));
      }
      await waitFor(
        "200 successful runs",
        async () => {
          const { flow_run_aggregate } = await h.ok(
            `{ flow_run_aggregate(where: { state: { _eq: "Success" } }) { aggregate { count } } }`,
          );
          return flow_run_aggregate.aggregate.count === 200 ? true : undefined;
        },
        // Generous: a bound on waiting, not a speed target (bench/dispatch measures speed).
        100_000,
      );
      const launches = h.launches();
      expect(launches).toHaveLength(200);
      expect(new Set(launches)).toEqual(new Set(ids));
      // Never more than maxConcurrent children at once, as each agent counted them at launch.
      for (const agent of [a!, b!]) {
        const running = agent.lines.flatMap((l) =>
          [...l.matchAll(/; (\d+)\/8 running/g)].map((m) => Number(m[1])),
        );
        expect(running.length).toBeGreaterThan(0); // both agents took a share
        expect(Math.max(...running)).toBeLessThanOrEqual(8);
      }
      const { flow_run } = await h.ok(`{ flow_run(limit: 1000) { agent_id } }`);
      const byAgent = new Map<string, number>();
      for (const r of flow_run as { agent_id: string }[])
        byAgent.set(r.agent_id, (byAgent.get(r.agent_id) ?? 0) + 1);
      expect((byAgent.get(a!.id) ?? 0) + (byAgent.get(b!.id) ?? 0)).toBe(200);
    });

    test("agents talking to two servers on one database launch each of 60 runs exactly once", {
      timeout: 120_000,
    }, async ({ h, database }) => {
      // A second server process's worth: its own API, services and events, the same database.
      const replica = await startServer({ database, port: 0 });
      let onReplica: { stop(): Promise<void> } | undefined;
      try {
        const flowId = await h.seedFlow("across");
        // The agent on the replica hears of no run created through the first server: it polls.
        const [a, b] = await Promise.all([
          h.startAgent({ name: "a", maxConcurrent: 6 }),
          h.startAgent({ name: "b", maxConcurrent: 6, apiUrl: replica.url, pollIntervalMs: 100 }),
        ]);
        onReplica = b;
        const ids: string[] = [];
        for (let i = 0; i < 60; i += 20) {
          const batch = await Promise.all(Array.from({ length: 20 }, () => h.createRun(flowId)));
          ids.push(...batch.map((r) => r.id));
        }
        await waitFor(
          "60 successful runs",
          async () => {
            const { flow_run_aggregate } = await h.ok(
              `{ flow_run_aggregate(where: { state: { _eq: "Success" } }) { aggregate { count } } }`,
            );
            return flow_run_aggregate.aggregate.count === 60 ? true : undefined;
          },
          60_000,
        );
        const launches = h.launches();
        expect(launches).toHaveLength(60);
        expect(new Set(launches)).toEqual(new Set(ids));
        const { flow_run } = await h.ok(`{ flow_run(limit: 1000) { agent_id } }`);
        const counts = [a!.id, b!.id].map(
          (id) => (flow_run as { agent_id: string }[]).filter((r) => r.agent_id === id).length,
        );
        expect(counts[0]! + counts[1]!).toBe(60);
        expect(Math.min(...counts)).toBeGreaterThan(0); // both took a share
      } finally {
        await onReplica?.stop();
        await replica.close();
      }
    });

    test("stop() waits for a run under way to finish", async ({ h }) => {
      const flowId = await h.seedFlow("slow", {
        run_config: { type: "local", env: { FAKE_DELAY_MS: "1000" } },
      });
      const agent = await h.startAgent({ stopTimeoutMs: 20_000 });
      const run = await h.createRun(flowId);
      await h.waitForState(run.id, "Running");
      await agent.stop();
      expect((await h.run(run.id)).state).toBe("Success");
      // Stopped: a new run is left for other agents.
      const later = await h.createRun(flowId);
      await new Promise((r) => setTimeout(r, 300));
      expect((await h.run(later.id)).state).toBe("Scheduled");
    });

    test("stop() ends runs that outlast the grace period, with what they started, and gives them to Lazarus", async ({
      h,
    }) => {
      const flowId = await h.seedFlow("sleepy", {
        run_config: { type: "local", env: { FAKE_MODE: "sleep" } },
      });
      const agent = await h.startAgent({ stopTimeoutMs: 300 });
      const run = await h.createRun(flowId);
      const line = await agent.waitForLine(/\] pids \d+ \d+$/);
      const pids = line.split(" ").slice(-2).map(Number);
      expect(pids.every(isAlive)).toBe(true);
      await agent.stop();
      expect(pids.filter(isAlive)).toEqual([]);
      // Rescheduled for another agent: this one has stopped.
      const lost = await h.run(run.id);
      expect(lost.state).toBe("Scheduled");
      expect(lost.state_message).toMatch(
        /^Lazarus: the flow-run process was killed by signal SIGTERM without reaching a final state \(agent agent-1 was stopping and its 0.3 s grace period ran out\); rescheduled \(restart 1 of 3\)$/,
      );
    });
  });
}

plainTest("startLocalAgent rejects when the server cannot be reached, leaving nothing running", async () => {
  await expect(
    startLocalAgent({
      apiUrl: "http://127.0.0.1:9",
      name: "nowhere",
      labels: [],
      executorCommand: [process.execPath, "-e", ""],
      log: () => {},
    }),
  ).rejects.toMatchObject({ code: "SERVER_UNREACHABLE" });
});
