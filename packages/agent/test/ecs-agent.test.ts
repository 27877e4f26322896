import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ECSClient } from "@aws-sdk/client-ecs";
import { type EcsStub, startEcsStub } from "@regent/testkit/ecs-stub";
import { afterEach, describe, expect } from "vitest";
import { type EcsAgent, type EcsAgentOptions, startEcsAgent } from "../src/index.js";
import { agentTest, FAKE_EXECUTOR, waitFor } from "./helpers.js";

// The ECS agent through the official ECS client, unchanged, against a local stand-in of the ECS API that
// checks every request against the ECS API model and runs each task as a real process (ecs-stub.ts).

const SUBNETS = {
  awsvpcConfiguration: {
    subnets: ["subnet-0a1b"],
    securityGroups: ["sg-0c2d"],
    assignPublicIp: "DISABLED" as const,
  },
};
const TASK_ROLE = "arn:aws:iam::123456789012:role/regent-flow";
const EXECUTION_ROLE = "arn:aws:iam::123456789012:role/regent-execution";
const IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/flows/etl@sha256:abc";

const test = agentTest("sqlite");

describe("ecs agent", () => {
  let stub: EcsStub | undefined;
  const agents: EcsAgent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await stub?.close();
    stub = undefined;
  });

  const start = async (h: { server: { url: string } }, options: Partial<EcsAgentOptions> = {}) => {
    stub = await startEcsStub({ command: [process.execPath, FAKE_EXECUTOR] });
    const lines: string[] = [];
    const agent = await startEcsAgent({
      apiUrl: h.server.url,
      name: "ecs-1",
      labels: ["prod"],
      ecs: new ECSClient({
        region: "us-east-1",
        endpoint: stub.url,
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
        maxAttempts: 3,
      }),
      defaults: { cluster: "flows", networkConfiguration: SUBNETS, executionRoleArn: EXECUTION_ROLE },
      taskPollMs: 50,
      pollIntervalMs: 60_000,
      heartbeatMs: 60_000,
      stopTimeoutMs: 5_000,
      log: (line) => lines.push(line),
      ...options,
    });
    agents.push(agent);
    return { agent, lines, stub };
  };

  test("runs a flow run as a Fargate Spot task: its task definition, strategy, network, size, roles and token", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("on-ecs", {
      run_config: {
        type: "ecs",
        image: IMAGE,
        cpu: 512,
        memory: 1024,
        taskRoleArn: TASK_ROLE,
        capacityProviderStrategy: [
          { capacityProvider: "FARGATE_SPOT", weight: 3 },
          { capacityProvider: "FARGATE", base: 1, weight: 2 },
        ],
        repositoryCredentials: "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-AbCdEf",
        logConfiguration: {
          logDriver: "awslogs",
          options: {
            "awslogs-group": "/regent/flows",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "flow",
          },
        },
        env: { STAGE: "prod" },
      },
    });
    const { stub } = await start(h);
    const run = await h.createRun(flowId, { run_config: { cpu: 1024, memory: 4096 } });
    await h.waitForState(run.id, "Success", 30_000);
    const token = await h.server.store.runTokens.mint(run.id);

    expect(stub.violations).toEqual([]);
    const [definition] = [...stub.taskDefinitions.values()];
    const { flow_by_pk } = await h.ok(`query($id: uuid!) { flow_by_pk(id: $id) { version_group_id } }`, {
      id: flowId,
    });
    expect(definition).toEqual({
      family: `regent-${flow_by_pk.version_group_id}`,
      networkMode: "awsvpc",
      requiresCompatibilities: ["FARGATE"],
      cpu: "512",
      memory: "1024",
      taskRoleArn: TASK_ROLE,
      executionRoleArn: EXECUTION_ROLE,
      containerDefinitions: [
        {
          name: "flow",
          image: IMAGE,
          essential: true,
          command: ["regent", "execute", "flow-run"],
          repositoryCredentials: {
            credentialsParameter: "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-AbCdEf",
          },
          logConfiguration: {
            logDriver: "awslogs",
            options: {
              "awslogs-group": "/regent/flows",
              "awslogs-region": "us-east-1",
              "awslogs-stream-prefix": "flow",
            },
          },
        },
      ],
      tags: [{ key: "regent:flow-id", value: flowId }],
    });
    const [task] = stub.tasks;
    expect(task!.input).toMatchObject({
      cluster: "flows",
      count: 1,
      startedBy: "regent-agent-ecs-1",
      capacityProviderStrategy: [
        { capacityProvider: "FARGATE_SPOT", weight: 3 },
        { capacityProvider: "FARGATE", base: 1, weight: 2 },
      ],
      networkConfiguration: SUBNETS,
      // The run's own size, over the task definition's.
      overrides: { cpu: "1024", memory: "4096" },
      tags: [
        { key: "regent:flow-run-id", value: run.id },
        { key: "regent:flow-id", value: flowId },
      ],
    });
    expect(task!.input).not.toHaveProperty("launchType");
    expect(task!.env).toEqual({
      STAGE: "prod",
      REGENT__API: h.server.url,
      REGENT__FLOW_RUN_ID: run.id,
      REGENT__API_KEY: token,
    });

    // The next run of the same flow version reuses the task definition.
    const again = await h.createRun(flowId);
    await h.waitForState(again.id, "Success", 30_000);
    expect(stub.taskDefinitions.size).toBe(1);
    expect(stub.tasks[1]!.input).toMatchObject({ overrides: { cpu: "512", memory: "1024" } });

    // A new version of the flow: a new revision of the family, and the one it replaces is deregistered.
    const v2 = await h.seedFlow("on-ecs", {
      content_hash: "on-ecs-2",
      run_config: { type: "ecs", image: IMAGE, cpu: 1024, memory: 2048, taskRoleArn: TASK_ROLE },
    });
    const third = await h.createRun(v2);
    await h.waitForState(third.id, "Success", 30_000);
    const arns = [...stub.taskDefinitions.keys()];
    expect(arns.map((a) => a.split(":").at(-1))).toEqual(["1", "2"]);
    expect(stub.deregistered).toEqual([arns[0]]);
  });

  test("a Fargate Spot interruption is an infrastructure failure: Lazarus runs it again on on-demand FARGATE, and says why", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("spot", {
      run_config: {
        type: "ecs",
        image: IMAGE,
        env: { FAKE_MODE: "sleep" },
        capacityProviderStrategy: [
          { capacityProvider: "FARGATE_SPOT", weight: 3 },
          { capacityProvider: "FARGATE", base: 1, weight: 2 },
        ],
      },
      max_restarts: 1,
    });
    const { stub, lines } = await start(h);
    const run = await h.createRun(flowId);
    await h.waitForState(run.id, "Running", 30_000);
    stub.interrupt(stub.tasks[0]!);
    await waitFor("a second task", () => stub.tasks[1]);
    const rescheduled = await h.stateData(run.id, "Scheduled");
    expect(rescheduled.message).toMatch(
      /the ECS task was stopped by a Fargate Spot interruption \(SpotInterruption: Your Spot Task was interrupted\.\) without reaching a final state/,
    );
    // The interruption is in the state's data, for the API and the UI.
    expect(rescheduled.data).toMatchObject({
      infrastructure: true,
      stopCode: "SpotInterruption",
      taskArn: stub.tasks[0]!.arn,
      lazarus: 1,
    });
    // The next attempt leaves Spot (spotFallback "on-demand", the default), and is tagged so.
    expect(stub.tasks[1]!.input).toMatchObject({
      capacityProviderStrategy: [{ capacityProvider: "FARGATE", base: 1, weight: 2 }],
      tags: expect.arrayContaining([{ key: "regent:spot-fallback", value: "on-demand" }]),
    });
    expect(lines.some((l) => l.includes('this one runs on FARGATE (spotFallback "on-demand")'))).toBe(true);
    stub.interrupt(stub.tasks[1]!);
    const failed = await h.waitForState(run.id, "Failed", 30_000);
    expect(failed.state_message).toMatch(/Fargate Spot interruption/);
    expect(stub.violations).toEqual([]);
  });

  test('with spotFallback "retry-spot" the attempt after an interruption stays on Spot', async ({ h }) => {
    const flowId = await h.seedFlow("spot-again", {
      run_config: {
        type: "ecs",
        image: IMAGE,
        env: { FAKE_MODE: "sleep" },
        capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT" }],
        spotFallback: "retry-spot",
      },
      max_restarts: 1,
    });
    const { stub } = await start(h);
    const run = await h.createRun(flowId);
    await h.waitForState(run.id, "Running", 30_000);
    stub.interrupt(stub.tasks[0]!);
    await waitFor("a second task", () => stub.tasks[1]);
    expect(stub.tasks[1]!.input).toMatchObject({
      capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT" }],
    });
    expect(JSON.stringify(stub.tasks[1]!.input)).not.toContain("regent:spot-fallback");
    stub.tasks[1]!.process?.kill("SIGKILL");
    await h.waitForState(run.id, "Failed", 30_000);
    expect(stub.violations).toEqual([]);
  });

  test("a task that cannot pull its image, and a RunTask that starts none, fail the run with ECS's reason", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("no-pull", {
      run_config: { type: "ecs", image: IMAGE },
      max_restarts: 0,
    });
    const { stub } = await start(h);
    stub.nextRunTask = "cannot-pull";
    const pull = await h.createRun(flowId);
    const failed = await h.waitForState(pull.id, "Failed", 30_000);
    expect(failed.state_message).toMatch(
      /the ECS task could not be started: CannotPullContainerError: pull image manifest has been retried/,
    );
    stub.nextRunTask = "failure";
    const none = await h.createRun(flowId);
    const refused = await h.waitForState(none.id, "Failed", 30_000);
    expect(refused.state_message).toMatch(
      /the ECS task could not be started: RunTask started no task: RESOURCE:MEMORY \(no capacity in the cluster\)/,
    );
    expect(stub.violations).toEqual([]);
  });

  test("throttling is retried by the SDK; a given task definition ARN is used as it is; a template file is the base", async ({
    h,
    tmp,
  }) => {
    const flowId = await h.seedFlow("throttled", {
      run_config: { type: "ecs", image: IMAGE, cpu: 256, memory: 512 },
    });
    const { stub } = await start(h);
    stub.nextRunTask = "throttle-once";
    const run = await h.createRun(flowId);
    await h.waitForState(run.id, "Success", 30_000);
    expect(stub.requests.filter((r) => r.operation === "RunTask")).toHaveLength(2);

    // A task definition of the user's own: described once for its container's name, never registered.
    const [arn] = [...stub.taskDefinitions.keys()];
    const given = await h.seedFlow("given", { run_config: { type: "ecs", taskDefinitionArn: arn } });
    const registered = stub.requests.filter((r) => r.operation === "RegisterTaskDefinition").length;
    const second = await h.createRun(given);
    await h.waitForState(second.id, "Success", 30_000);
    expect(stub.requests.filter((r) => r.operation === "RegisterTaskDefinition")).toHaveLength(registered);
    expect(stub.tasks.at(-1)!.input).toMatchObject({
      taskDefinition: arn,
      overrides: { containerOverrides: [{ name: "flow" }] },
    });

    // A template in a YAML file on the agent's machine: the flow's fields go over it.
    const file = join(tmp, "task.yaml");
    writeFileSync(
      file,
      "family: etl-template\nephemeralStorage: { sizeInGiB: 50 }\ncontainerDefinitions:\n  - name: main\n  - name: sidecar\n    image: busybox\n    essential: false\n",
    );
    const templated = await h.seedFlow("templated", {
      run_config: { type: "ecs", image: IMAGE, cpu: 256, memory: 512, taskDefinitionPath: file },
    });
    const fourth = await h.createRun(templated);
    await h.waitForState(fourth.id, "Success", 30_000);
    const made = [...stub.taskDefinitions.values()].at(-1)!;
    expect(made).toMatchObject({
      family: "etl-template",
      ephemeralStorage: { sizeInGiB: 50 },
      containerDefinitions: [
        { name: "main", image: IMAGE, essential: true, command: ["regent", "execute", "flow-run"] },
        { name: "sidecar", image: "busybox", essential: false },
      ],
    });
    expect(stub.tasks.at(-1)!.input).toMatchObject({ overrides: { containerOverrides: [{ name: "main" }] } });
    expect(stub.violations).toEqual([]);
  });

  test("refuses before calling AWS: a Fargate run without subnets, a run without an image or an execution role it needs; and no credentials are named", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("no-subnets", {
      run_config: { type: "ecs", image: IMAGE },
      max_restarts: 0,
    });
    const { stub } = await start(h, { defaults: { cluster: "flows" } });
    const run = await h.createRun(flowId);
    const failed = await h.waitForState(run.id, "Failed", 30_000);
    expect(failed.state_message).toMatch(/a Fargate task needs subnets: set ecsRun\(\{ networkConfiguration/);
    const noImage = await h.seedFlow("no-image", { run_config: { type: "ecs" }, max_restarts: 0 });
    const second = await h.createRun(noImage);
    expect((await h.waitForState(second.id, "Failed", 30_000)).state_message).toMatch(/names no image/);
    const noRole = await h.seedFlow("no-role", {
      run_config: {
        type: "ecs",
        image: IMAGE,
        networkConfiguration: SUBNETS,
        logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/regent/flows" } },
      },
      max_restarts: 0,
    });
    const third = await h.createRun(noRole);
    expect((await h.waitForState(third.id, "Failed", 30_000)).state_message).toMatch(
      /the task needs an execution role to write its logs to CloudWatch \(awslogs\) and pull its image from ECR: set ecsRun\(\{ executionRoleArn \}\), or start the agent with --execution-role-arn/,
    );
    expect(stub.requests).toEqual([]);

    await expect(
      startEcsAgent({
        apiUrl: h.server.url,
        name: "no-credentials",
        labels: [],
        ecs: new ECSClient({
          region: "us-east-1",
          endpoint: stub.url,
          credentials: async () => {
            throw new Error("Could not load credentials from any providers");
          },
        }),
      }),
    ).rejects.toThrow(
      /no AWS credentials \(Could not load credentials from any providers\); looked in: env AWS_ACCESS_KEY_ID/,
    );
  });
});
