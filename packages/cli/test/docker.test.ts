import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import Dockerode from "dockerode";
import { afterAll, beforeAll, expect } from "vitest";
import { startServer, until, useServerDatabases } from "./helpers.js";

// Docker storage end to end, against a real Docker engine and a real private registry with password
// auth (scripts/testbed/docker.sh, which npm test starts): `docker login`, then `regent register` builds
// the flow's image FROM the runtime image (built here by deploy/docker/build-runtime.mjs, the shipped
// path) and pushes it with those credentials; the local image is deleted; a Docker agent pulls it with
// the same credentials and runs the flow in it. Then a run over its per-run memory limit, and a
// register with wrong credentials.

const registry = process.env.REGENT_TEST_REGISTRY;
const base = process.env.REGENT_TEST_BASE_IMAGE;
if (!registry || !base)
  throw new Error(
    'the Docker tests need a Docker engine and a registry: run them with `npm test` (it starts both), or `eval "$(bash scripts/testbed/docker.sh start)"` first',
  );
const user = process.env.REGENT_TEST_REGISTRY_USER ?? "";
const password = process.env.REGENT_TEST_REGISTRY_PASSWORD ?? "";
const RUNTIME = "regent/runtime:test";
const REPOSITORY = `${registry}/regent-test/in-container`;
const fixture = new URL("./fixtures/docker/in-container.ts", import.meta.url).pathname;
const clusterFixture = new URL("./fixtures/docker-cluster/wide-docker.ts", import.meta.url).pathname;
const repo = new URL("../../../", import.meta.url).pathname;
const docker = new Dockerode();
const dbFor = useServerDatabases();

let dockerConfig: string;
beforeAll(() => {
  execFileSync(
    process.execPath,
    [join(repo, "deploy/docker/build-runtime.mjs"), "--node-image", base, "--tag", RUNTIME],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  // `docker login` as a user would, into a config folder of the test's own.
  dockerConfig = mkdtempSync(join(tmpdir(), "regent-docker-config-"));
  execFileSync("docker", ["login", registry, "-u", user, "--password-stdin"], {
    input: `${password}\n`,
    env: { ...process.env, DOCKER_CONFIG: dockerConfig },
    stdio: ["pipe", "ignore", "inherit"],
  });
}, 180_000);
afterAll(() => {
  if (dockerConfig) rmSync(dockerConfig, { recursive: true, force: true });
});

/** Removes every local image of the flow's repository: the agent has to pull. */
async function removeLocalImages(): Promise<void> {
  for (const image of await docker.listImages({ filters: { reference: [REPOSITORY] } }))
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => undefined);
}

test("regent register builds and pushes a Docker storage image with docker login's credentials; a Docker agent pulls it and runs the flow; a run over its memory limit fails as OOMKilled", async ({
  cli,
  tmp,
}) => {
  const env = {
    DOCKER_CONFIG: dockerConfig,
    REGENT__DOCKER__RUNTIME_IMAGE: RUNTIME,
    REGENT_TEST_REGISTRY: registry,
    REGENT_TEST_NONCE: randomUUID(),
  };
  const api = await startServer(await dbFor("sqlite", tmp));
  expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);

  const first = await cli(["register", fixture, "--project", "demo", "--api", api], { env });
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toMatch(/registered in-container v1/);
  expect(first.stderr).toMatch(new RegExp(`building ${REPOSITORY}:regent-[0-9a-f]{24} FROM ${RUNTIME}`));
  expect(first.stderr).toMatch(/pushed .*@sha256:[0-9a-f]{64}/);
  const { flow } = await graphqlData(api, `{ flow { id storage } }`);
  const image: string = flow[0].storage.image;
  expect(image).toMatch(new RegExp(`^${REPOSITORY}@sha256:[0-9a-f]{64}$`));

  // Unchanged: the registry has that content; nothing is built or pushed, the version stays.
  const again = await cli(["register", fixture, "--project", "demo", "--api", api], { env });
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout).toMatch(/unchanged +in-container v1/);
  expect(again.stderr).toMatch(/in the registry already: nothing to build or push/);
  expect(again.stderr).not.toMatch(/building|pushing/);

  await removeLocalImages();
  const agent = startRegentProcess(["agent", "docker", "start", "--label", "docker", "--api", api], {
    DOCKER_CONFIG: dockerConfig,
  });
  await agent.waitFor(/Regent Docker agent/);
  const ok = await cli(["run", "--name", "in-container", "--project", "demo", "--watch", "--api", api]);
  expect(ok.code, ok.stdout + ok.stderr + agent.output()).toBe(0);
  expect(agent.output()).toContain(`pulling ${image} (as ${user})`);
  const { log } = await graphqlData(api, `{ log { message } }`);
  expect(log.map((l: { message: string }) => l.message)).toContain(
    "hello from the image: in image true, uid 1000, 3 lookup rows, set at build, sqlite says 42",
  );

  // The same flow, 48 MiB allowed for this run only, allocating far more: killed, and said so.
  const oom = await cli([
    "run",
    "--name",
    "in-container",
    "--project",
    "demo",
    "--param",
    "allocateMiB=400",
    "--run-config",
    '{"memory": 48}',
    "--watch",
    "--api",
    api,
  ]);
  expect(oom.code).not.toBe(0);
  const failed = await until("the run over its memory to fail", async () => {
    const { flow_run } = await graphqlData(
      api,
      `{ flow_run(where: { state: { _eq: "Failed" } }) { state state_message run_config } }`,
    );
    return flow_run[0];
  });
  expect(failed.run_config).toEqual({ memory: 48 });
  expect(failed.state_message).toMatch(/more memory than its limit of 48 MiB \(OOMKilled\)/);
}, 300_000);

test("regent register with wrong registry credentials fails with the registry's reason and registers nothing", async ({
  cli,
  tmp,
}) => {
  const api = await startServer(await dbFor("sqlite", tmp));
  expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);
  const empty = mkdtempSync(join(tmpdir(), "regent-docker-config-"));
  try {
    const refused = await cli(
      [
        "register",
        fixture,
        "--project",
        "demo",
        "--registry-username",
        user,
        "--registry-password-stdin",
        "--api",
        api,
      ],
      {
        input: "not-the-password\n",
        env: { DOCKER_CONFIG: empty, REGENT__DOCKER__RUNTIME_IMAGE: RUNTIME, REGENT_TEST_REGISTRY: registry },
      },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/REGISTRY_AUTH_FAILED/);
    expect(refused.stderr).toContain(`the registry ${registry} refused the credentials of "${user}"`);
    expect(refused.stderr).toMatch(/unauthorized/);

    // No credentials at all: said so, with what to run (and the flow named by a relative path).
    const none = await cli(
      ["register", relative(process.cwd(), fixture), "--project", "demo", "--api", api],
      {
        env: { DOCKER_CONFIG: empty, REGENT__DOCKER__RUNTIME_IMAGE: RUNTIME, REGENT_TEST_REGISTRY: registry },
      },
    );
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain(`needs credentials and none are known for it`);
    expect(none.stderr).toContain(`Run docker login ${registry}`);

    // A base image that is neither here nor in the (loopback) registry: the builder's words, and how
    // to make one.
    const missing = `${registry}/regent-test/no-such-runtime:1`;
    const noBase = await cli(["register", fixture, "--project", "demo", "--api", api], {
      env: {
        DOCKER_CONFIG: dockerConfig,
        REGENT__DOCKER__RUNTIME_IMAGE: missing,
        REGENT_TEST_REGISTRY: registry,
      },
    });
    expect(noBase.code).not.toBe(0);
    expect(noBase.stderr).toMatch(/IMAGE_BUILD_FAILED/);
    expect(noBase.stderr).toContain(
      `the base image ${missing} is not on this machine and could not be pulled: build the runtime image with \`npm run image:runtime\``,
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  const { flow } = await graphqlData(api, `{ flow { id } }`);
  expect(flow).toEqual([]);
}, 120_000);

test("clusterTaskRunner with dockerRun infra: workers are containers of the runtime image, removed when the run ends", async ({
  cli,
  tmp,
}) => {
  const api = await startServer(await dbFor("sqlite", tmp));
  expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);
  const registered = await cli(["register", clusterFixture, "--project", "demo", "--api", api]);
  expect(registered.code, registered.stderr).toBe(0);
  const agent = startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--api", api]);
  const run = await cli(["run", "--name", "wide-docker", "--project", "demo", "--watch", "--api", api]);
  expect(run.code, run.stdout + run.stderr + agent.output()).toBe(0);
  const { flow_run } = await graphqlData(
    api,
    `{ flow_run(where: { flow: { name: { _eq: "wide-docker" } } }) { id state states(order_by: [{ version: desc }], limit: 1) { data } } }`,
  );
  const result = flow_run[0].states[0].data.result as {
    wrong: number;
    workers: string[];
    outside: number;
    flowInContainer: boolean;
  };
  // Every item right, each run by one of the two workers, in a container (the flow itself is not).
  expect(result).toEqual({
    wrong: 0,
    workers: [expect.stringMatching(/-w1$/), expect.stringMatching(/-w2$/)],
    outside: 0,
    flowInContainer: false,
  });
  expect(agent.output()).toMatch(/ [0-9a-f]{8}-[0-9a-f]{4}-w1\] /);
  // The worker containers are gone: removed once they ended.
  const left = await docker.listContainers({
    all: true,
    filters: { label: [`io.regent.flow-run-id=${flow_run[0].id}`] },
  });
  expect(left).toEqual([]);
}, 180_000);
