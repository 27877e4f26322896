import { execFileSync } from "node:child_process";
import { dirname } from "node:path";
import Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type DockerAgent, startDockerAgent } from "../src/index.js";
import { agentTest, FAKE_EXECUTOR, waitFor } from "./helpers.js";

// The Docker agent against a real Docker engine and a real private registry with password auth, both
// started by scripts/testbed/docker.sh (npm test does): each run in a container of an image built here
// from the fake executor, with the run's token, env and limits; output in the agent's log; out-of-memory
// kills and missing images reported with the reason; pulls from the registry with credentials.

const registry = process.env.REGENT_TEST_REGISTRY;
const base = process.env.REGENT_TEST_BASE_IMAGE;
if (!registry || !base)
  throw new Error(
    'the Docker tests need a Docker engine and a registry: run them with `npm test` (it starts both), or `eval "$(bash scripts/testbed/docker.sh start)"` first',
  );
const auth = {
  username: process.env.REGENT_TEST_REGISTRY_USER ?? "",
  password: process.env.REGENT_TEST_REGISTRY_PASSWORD ?? "",
};
const IMAGE = "regent-test-fake-executor:1";
const PRIVATE = `${registry}/regent-test/fake-executor:1`;
const COMMAND = ["/usr/bin/node", "/app/fake-executor.mjs"];
const docker = new Dockerode();

beforeAll(async () => {
  // FROM the testbed's base image (this machine's node), plus the fake executor.
  execFileSync("docker", ["build", "-q", "-t", IMAGE, "-f", "-", dirname(FAKE_EXECUTOR)], {
    input: `FROM ${base}\nCOPY fake-executor.mjs /app/fake-executor.mjs\nCMD ${JSON.stringify(COMMAND)}\n`,
    stdio: ["pipe", "ignore", "inherit"],
  });
  // The same image in the private registry, pushed with credentials, and not kept on this machine.
  await docker.getImage(IMAGE).tag({ repo: PRIVATE.slice(0, PRIVATE.lastIndexOf(":")), tag: "1" });
  const push = await docker.getImage(PRIVATE).push({ authconfig: { ...auth, serveraddress: registry } });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(push, (error: Error | null, events: { error?: string }[]) => {
      const failed = events.find((e) => e.error);
      if (error || failed) reject(error ?? new Error(failed?.error));
      else resolve();
    }),
  );
  await docker.getImage(PRIVATE).remove();
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

  test("an agent without a Docker engine refuses to start, saying how to reach one", async ({ h }) => {
    await expect(
      startAgent(h, { docker: new Dockerode({ socketPath: "/nonexistent/docker.sock" }) }),
    ).rejects.toThrow(/no Docker engine answers at .*: start dockerd, or set DOCKER_HOST/);
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
