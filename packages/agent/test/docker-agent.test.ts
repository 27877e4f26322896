import Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type DockerAgent, startDockerAgent } from "../src/index.js";
import { auth, buildFakeExecutorImage, COMMAND, pushPrivate, registry } from "./docker-helpers.js";
import { agentTest, waitFor } from "./helpers.js";

// The Docker agent against a real Docker engine and a real private registry with password auth, both
// started by scripts/testbed/docker.sh (npm test does): each run in a container of an image built here
// from the fake executor, with the run's token, env and limits; output in the agent's log; out-of-memory
// kills and missing images reported with the reason; pulls from the registry with credentials.

const IMAGE = "regent-test-fake-executor:1";
const PRIVATE = `${registry}/regent-test/fake-executor:1`;
const docker = new Dockerode();

beforeAll(async () => {
  buildFakeExecutorImage(IMAGE);
  // The same image in the private registry, pushed with credentials, and not kept on this machine.
  await pushPrivate(docker, IMAGE, PRIVATE);
}, 120_000);

afterAll(async () => {
  await docker
    .getImage(PRIVATE)
    .remove()
    .catch(() => undefined);
});

const test = agentTest("sqlite");

describe("docker agent", () => {
  const started: DockerAgent[] = [];
  const startAgent = async (
    h: { server: { url: string } },
    options: Partial<Parameters<typeof startDockerAgent>[0]> = {},
  ) => {
    const lines: string[] = [];
    const agent = await startDockerAgent({
      apiUrl: h.server.url,
      name: `docker-${started.length + 1}`,
      labels: ["prod"],
      command: COMMAND,
      registryAuth: {},
      pollIntervalMs: 60_000,
      heartbeatMs: 60_000,
      stopTimeoutMs: 5_000,
      log: (line) => lines.push(line),
      ...options,
    });
    started.push(agent);
    return { agent, lines };
  };
  afterAll(async () => {
    await Promise.all(started.map((a) => a.stop()));
  });
  const containersOf = (runId: string) =>
    docker.listContainers({ all: true, filters: { label: [`io.regent.flow-run-id=${runId}`] } });

  test("runs a flow run in a container with its token, env and output, then removes the container", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("in-docker", {
      run_config: {
        type: "docker",
        image: IMAGE,
        memory: 256,
        cpus: 0.5,
        env: { FAKE_PRINT_ENV: "RUN_VAR,REGENT__FLOW_RUN_ID,REGENT__API_KEY", RUN_VAR: "flow" },
      },
    });
    const { lines } = await startAgent(h, { apiKey: undefined });
    const run = await h.createRun(flowId, { run_config: { env: { RUN_VAR: "run" } } });
    await h.waitForState(run.id, "Success", 60_000);
    const token = await h.server.store.runTokens.mint(run.id);
    await waitFor("the container's output", () => lines.find((l) => l.includes("fake executor: success")));
    expect(lines).toEqual(
      expect.arrayContaining([
        `[${run.name}] env RUN_VAR=run`,
        `[${run.name}] env REGENT__FLOW_RUN_ID=${run.id}`,
        `[${run.name}] env REGENT__API_KEY=${token}`,
        `[${run.name}] fake executor: success`,
      ]),
    );
    await waitFor("the container to be removed", async () =>
      (await containersOf(run.id)).length === 0 ? true : undefined,
    );
    // Its flow reported: the container's output is not copied into the run's logs.
    const { log } = await h.ok(
      `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }) { message } }`,
      {
        id: run.id,
      },
    );
    expect(log.filter((l: { message: string }) => l.message.startsWith("[container]"))).toEqual([]);
  });

  test("a run over its memory limit is reported as killed out of memory", async ({ h }) => {
    const flowId = await h.seedFlow("oom", {
      run_config: { type: "docker", image: IMAGE, memory: 48, env: { FAKE_MODE: "oom" } },
      max_restarts: 0,
    });
    await startAgent(h);
    const run = await h.createRun(flowId);
    const failed = await h.waitForState(run.id, "Failed", 60_000);
    expect(failed.state_message).toMatch(
      /the container was killed for using more memory than its limit of 48 MiB \(OOMKilled\)/,
    );
  });

  test("an image from the private registry is pulled with its credentials; without them the run fails saying why", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("private", {
      run_config: { type: "docker", image: PRIVATE },
      max_restarts: 0,
    });
    const without = await startAgent(h, { name: "no-credentials" });
    const refused = await h.createRun(flowId);
    const failed = await h.waitForState(refused.id, "Failed", 60_000);
    expect(failed.state_message).toMatch(
      /the container could not be started: .*(no basic auth credentials|unauthorized)/,
    );
    await without.agent.stop();

    await startAgent(h, { name: "with-credentials", registryAuth: { [registry]: auth } });
    const run = await h.createRun(flowId);
    await h.waitForState(run.id, "Success", 60_000);
  });

  test("a container that ends before its flow reports anything leaves its output in the run's logs", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("early", {
      run_config: { type: "docker", image: IMAGE, env: { FAKE_MODE: "early" } },
      max_restarts: 0,
    });
    await startAgent(h);
    const run = await h.createRun(flowId);
    const failed = await h.waitForState(run.id, "Failed", 60_000);
    expect(failed.state_message).toMatch(/the container exited with code 1 without reaching a final state/);
    const { log } = await h.ok(
      `query($id: uuid!) { log(where: { flow_run_id: { _eq: $id } }, order_by: [{ timestamp: asc }]) { level message } }`,
      { id: run.id },
    );
    expect(log).toEqual(
      expect.arrayContaining([
        { level: "error", message: "[container] fake executor: early" },
        { level: "error", message: "[container] cannot load the flow: early exit" },
      ]),
    );
  });

  test("a container killed with docker kill is reported as killed, with the signal", async ({ h }) => {
    const flowId = await h.seedFlow("killed", {
      run_config: { type: "docker", image: IMAGE, env: { FAKE_MODE: "sleep" } },
      max_restarts: 0,
    });
    await startAgent(h);
    const run = await h.createRun(flowId);
    await h.waitForState(run.id, "Running", 60_000);
    const [container] = await containersOf(run.id);
    await docker.getContainer(container!.Id).kill();
    const failed = await h.waitForState(run.id, "Failed", 60_000);
    expect(failed.state_message).toMatch(
      /the container was killed by SIGKILL \(exit code 137; e.g. docker kill or docker stop\)/,
    );
  });

  test("an image that does not exist fails the run with the engine's reason", async ({ h }) => {
    const flowId = await h.seedFlow("missing-image", {
      run_config: { type: "docker", image: `${registry}/regent-test/no-such-image:1` },
      max_restarts: 0,
    });
    await startAgent(h, { registryAuth: { [registry]: auth } });
    const run = await h.createRun(flowId);
    const failed = await h.waitForState(run.id, "Failed", 60_000);
    expect(failed.state_message).toMatch(/the container could not be started: .*(not found|unknown)/i);
  });
});
