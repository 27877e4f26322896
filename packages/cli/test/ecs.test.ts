import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { graphqlData, REGENT_BIN, startRegentProcess, regentTest as test } from "@regent/testkit";
import { type EcsStub, startEcsStub } from "@regent/testkit/ecs-stub";
import { afterEach, expect } from "vitest";
import { startServerWithFlows, useServerDatabases } from "./helpers.js";

// `regent agent ecs start` as users run it, its AWS client made from the environment (AWS_REGION, the
// credentials, AWS_ENDPOINT_URL_ECS pointing at a local stand-in of the ECS API that checks each request
// against the ECS API model). Each task the stand-in is asked to run is the real `regent execute
// flow-run` with the task's environment, as the runtime image's container would run it.

const dbFor = useServerDatabases();
const fixture = new URL("./fixtures/ecs/on-fargate.ts", import.meta.url).pathname;
const clusterFixture = new URL("./fixtures/ecs-cluster/wide-ecs.ts", import.meta.url).pathname;
let stub: EcsStub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

const awsEnv = (url: string) => ({
  AWS_ENDPOINT_URL_ECS: url,
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
});

test("an ECS agent runs a flow on Fargate Spot with a per-run size; a size Fargate lacks is refused at run creation", async ({
  cli,
  tmp,
}) => {
  stub = await startEcsStub({
    command: [process.execPath, REGENT_BIN, "execute", "flow-run"],
    env: { NO_COLOR: "1" },
  });
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), fixture);
  const agent = startRegentProcess(
    [
      "agent",
      "ecs",
      "start",
      "--label",
      "ecs",
      "--cluster",
      "flows",
      "--subnet",
      "subnet-0a1b",
      "--security-group",
      "sg-0c2d",
      "--api",
      api,
    ],
    awsEnv(stub.url),
  );
  await agent.waitFor(/Regent ECS agent .*: waiting for flow runs labelled ecs, cluster flows, FARGATE/);

  const run = await cli([
    "run",
    ...["--name", "on-fargate", "--project", "demo"],
    ...["--run-config", '{"cpu": 1024, "memory": 4096}'],
    ...["--watch", "--api", api],
  ]);
  expect(run.code, run.stdout + run.stderr + agent.output()).toBe(0);
  expect(run.stdout).toContain("on ECS, stage prod");
  expect(stub.violations).toEqual([]);
  const [task] = stub.tasks;
  expect(task!.input).toMatchObject({
    cluster: "flows",
    capacityProviderStrategy: [
      { capacityProvider: "FARGATE_SPOT", weight: 3 },
      { capacityProvider: "FARGATE", base: 1, weight: 2 },
    ],
    networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-0a1b"], securityGroups: ["sg-0c2d"] } },
    overrides: { cpu: "1024", memory: "4096" },
  });
  const [definition] = [...stub.taskDefinitions.values()];
  expect(definition).toMatchObject({ cpu: "512", memory: "1024", requiresCompatibilities: ["FARGATE"] });

  // 8 GiB does not go with 0.5 vCPU on Fargate: refused when the run is created, with the sizes that do.
  const refused = await cli([
    "run",
    ...["--name", "on-fargate", "--project", "demo", "--run-config", '{"memory": 8192}', "--api", api],
  ]);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(
    /INVALID_CONFIG.*memory: Fargate has no task size with cpu 512 and memory 8192 MiB: with cpu 512, memory is 1024, 2048, 3072, 4096 MiB; memory 8192 MiB goes with cpu 1024, 2048 or 4096/,
  );
  const { flow_run } = await graphqlData(api, `{ flow_run { id } }`);
  expect(flow_run).toHaveLength(1);
}, 120_000);

test("a wide flow fans out over ECS worker tasks its own task starts, with its agent's cluster and network", async ({
  cli,
  tmp,
}) => {
  // Each task runs its command as the built CLI: the task definition's (`regent execute flow-run`) or its
  // override's (`regent worker …`). The flow's task reaches the ECS API as its task role would: the same
  // endpoint and credentials, known once the stub listens (its tasks read `env` when they start).
  const env: Record<string, string> = { NO_COLOR: "1" };
  stub = await startEcsStub({
    command: (overridden) => [
      process.execPath,
      REGENT_BIN,
      ...(overridden ?? ["regent", "execute", "flow-run"]).slice(1),
    ],
    env,
  });
  Object.assign(env, awsEnv(stub.url));
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), clusterFixture);
  const agent = startRegentProcess(
    [
      ...["agent", "ecs", "start", "--label", "ecs", "--cluster", "flows"],
      ...["--capacity-provider", "FARGATE_SPOT", "--subnet", "subnet-0a1b", "--security-group", "sg-0c2d"],
      ...["--api", api],
    ],
    awsEnv(stub.url),
  );
  await agent.waitFor(/Regent ECS agent .*: waiting for flow runs labelled ecs/);
  const run = await cli(["run", "--name", "wide-ecs", "--project", "demo", "--watch", "--api", api]);
  expect(run.code, run.stdout + run.stderr + agent.output()).toBe(0);
  const { flow_run } = await graphqlData(
    api,
    `{ flow_run(where: { flow: { name: { _eq: "wide-ecs" } } }) { id state states(order_by: [{ version: desc }], limit: 1) { data } } }`,
  );
  const result = flow_run[0].states[0].data.result as { wrong: number; pids: number[]; flowPid: number };
  expect(result.wrong).toBe(0);
  expect(result.pids).toHaveLength(2);
  expect(result.pids).not.toContain(result.flowPid);
  expect(stub.violations).toEqual([]);

  const id = flow_run[0].id as string;
  const workers = stub.tasks.filter((t) =>
    (t.input.tags as Array<{ key: string }>).some((tag) => tag.key === "regent:worker-id"),
  );
  expect(workers).toHaveLength(2);
  for (const task of workers) {
    expect(task.input).toMatchObject({
      cluster: "flows",
      capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT" }],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ["subnet-0a1b"], securityGroups: ["sg-0c2d"] },
      },
      overrides: { cpu: "1024", memory: "2048" },
      startedBy: `regent-workers-${id}`,
    });
    const override = (task.input.overrides as { containerOverrides: Array<{ command: string[] }> })
      .containerOverrides[0]!;
    expect(override.command.slice(0, 4)).toEqual(["regent", "worker", "--flow-run", id]);
    // Stopped once the run ended.
    expect(task.lastStatus).toBe("STOPPED");
  }
}, 120_000);

test("regent agent ecs start without AWS credentials names where it looked", async ({ cli }) => {
  const home = mkdtempSync(join(tmpdir(), "regent-no-aws-"));
  try {
    const started = await cli(["agent", "ecs", "start", "--api", "http://127.0.0.1:9"], {
      env: {
        HOME: home,
        AWS_REGION: "us-east-1",
        // Nothing else is asked: not the instance metadata service, which is not on loopback.
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_ACCESS_KEY_ID: "",
        AWS_SECRET_ACCESS_KEY: "",
        AWS_PROFILE: "",
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "",
        AWS_CONTAINER_CREDENTIALS_FULL_URI: "",
        AWS_WEB_IDENTITY_TOKEN_FILE: "",
      },
    });
    expect(started.code).not.toBe(0);
    expect(started.stderr).toMatch(
      /no AWS credentials \(.*\); looked in: env AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
