import Dockerode from "dockerode";
import { afterAll, beforeAll, expect } from "vitest";
import { type DockerAgent, startDockerAgent } from "../src/index.js";
import {
  auth,
  buildFakeExecutorImage,
  COMMAND,
  ownDockerEngine,
  pushPrivate,
  registry,
} from "./docker-helpers.js";
import { agentTest, waitFor } from "./helpers.js";

// A Docker agent whose engine is down when it starts, comes up, then goes away in the middle of a run
// and comes back: an engine of the test's own (dockerd on its own socket), so the shared one is untouched.
// The image is pulled from the private registry into that engine, with credentials.

const PRIVATE = `${registry}/regent-test/fake-executor:engine`;
const engine = ownDockerEngine();

beforeAll(async () => {
  const shared = new Dockerode();
  buildFakeExecutorImage("regent-test-fake-executor:engine");
  await pushPrivate(shared, "regent-test-fake-executor:engine", PRIVATE);
}, 120_000);
afterAll(() => engine.dispose(), 60_000);

const test = agentTest("sqlite");

test("an agent whose Docker engine is down claims nothing and says why, recovers when it answers, and reports a run lost with the engine", async ({
  h,
}) => {
  const lines: string[] = [];
  let agent: DockerAgent | undefined;
  try {
    agent = await startDockerAgent({
      apiUrl: h.server.url,
      name: "docker-engine",
      labels: ["prod"],
      docker: engine.docker,
      command: COMMAND,
      registryAuth: { [registry]: auth },
      pollIntervalMs: 200,
      heartbeatMs: 60_000,
      stopTimeoutMs: 5_000,
      log: (line) => lines.push(line),
    });
    const flowId = await h.seedFlow("engine", {
      run_config: { type: "docker", image: PRIVATE },
      max_restarts: 0,
    });
    const first = await h.createRun(flowId);
    await waitFor("the agent to say the engine is down", () =>
      lines.find((l) =>
        /not claiming flow runs: no Docker engine answers at .*start dockerd, or set DOCKER_HOST/.test(l),
      ),
    );
    // Several polls later the run is still waiting for an agent, not claimed only to fail.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await h.run(first.id)).state).toBe("Scheduled");
    expect(lines.filter((l) => l.includes("not claiming flow runs"))).toHaveLength(1);

    await engine.start();
    await h.waitForState(first.id, "Success", 90_000);
    expect(lines).toContain("agent docker-engine: docker is available again; claiming flow runs");
    expect(lines.some((l) => l.includes(`pulling ${PRIVATE} (as ${auth.username})`))).toBe(true);

    // The engine goes away under a running container: it stops the container as it goes (as
    // `systemctl stop docker` does), and the run is reported as an infrastructure failure, with why:
    // killed, or lost when the engine was gone before the agent could look.
    const sleeper = await h.createRun(flowId, { run_config: { env: { FAKE_MODE: "sleep" } } });
    await h.waitForState(sleeper.id, "Running", 60_000);
    await engine.stop();
    const failed = await h.waitForState(sleeper.id, "Failed", 60_000);
    expect(failed.state_message).toMatch(
      /the container (was killed by SIG(KILL|TERM) |exited with code 143 |was lost \(.*Docker engine stopped answering.*\) ).*without reaching a final state/,
    );

    // And back again: the next run goes through.
    await engine.start();
    const after = await h.createRun(flowId);
    await h.waitForState(after.id, "Success", 60_000);
  } finally {
    await agent?.stop();
  }
}, 240_000);
