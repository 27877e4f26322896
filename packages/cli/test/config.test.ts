import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type EcsAgentFlags, ecsDefaults } from "../src/commands/agent-ecs.js";
import { loadConfig } from "../src/config.js";

// Env REGENT__… as the config's sections read it (lists as `a,b` or JSON, numbers, booleans), and the ECS
// agent's defaults from its flags over the [ecs] section.

const fromEnv = (env: Record<string, string>) => loadConfig({ file: "/nonexistent/config.toml", env });
const noFlags = { label: [], capacityProvider: [], subnet: [], securityGroup: [] };

describe("config from env", () => {
  test.for([
    [
      { REGENT__AGENT__LABELS: "prod, ecs" },
      (c: ReturnType<typeof fromEnv>) => c.agent.labels,
      ["prod", "ecs"],
    ],
    [
      { REGENT__ECS__SUBNETS: '["subnet-1","subnet-2"]' },
      (c: ReturnType<typeof fromEnv>) => c.ecs.subnets,
      ["subnet-1", "subnet-2"],
    ],
    [
      { REGENT__ECS__CAPACITY_PROVIDERS: "FARGATE_SPOT:3,FARGATE:2:1" },
      (c: ReturnType<typeof fromEnv>) => c.ecs.capacity_providers,
      ["FARGATE_SPOT:3", "FARGATE:2:1"],
    ],
    [
      { REGENT__ECS__ASSIGN_PUBLIC_IP: "true" },
      (c: ReturnType<typeof fromEnv>) => c.ecs.assign_public_ip,
      true,
    ],
    [{ REGENT__SERVER__PORT: "4300" }, (c: ReturnType<typeof fromEnv>) => c.server.port, 4300],
    // Read as the schema types it: every number, boolean and list setting, not a list kept by hand.
    [{ REGENT__SERVER__MAX_RESTARTS: "5" }, (c: ReturnType<typeof fromEnv>) => c.server.max_restarts, 5],
    [
      { REGENT__SERVER__CORS_ORIGINS: "https://a.example,https://b.example" },
      (c: ReturnType<typeof fromEnv>) => c.server.cors_origins,
      ["https://a.example", "https://b.example"],
    ],
    [
      { REGENT__DOCKER__RUNTIME_IMAGE: "r:5000/regent/runtime:1" },
      (c: ReturnType<typeof fromEnv>) => c.docker.runtime_image,
      "r:5000/regent/runtime:1",
    ],
  ] as const)("%j", ([env, read, want]) => {
    expect(read(fromEnv(env))).toEqual(want);
  });

  test("a wrong type names the variable", () => {
    expect(() => fromEnv({ REGENT__ECS__ASSIGN_PUBLIC_IP: "yes" })).toThrow(
      /ecs.assign_public_ip \(from env REGENT__ECS__ASSIGN_PUBLIC_IP\)/,
    );
  });
});

describe("ecsDefaults", () => {
  const region = process.env.AWS_REGION;
  beforeAll(() => {
    process.env.AWS_REGION = "eu-west-1";
  });
  afterAll(() => {
    if (region === undefined) delete process.env.AWS_REGION;
    else process.env.AWS_REGION = region;
  });

  test("flags win over [ecs]; a strategy, network and roles are made from them", () => {
    const config = fromEnv({ REGENT__ECS__CLUSTER: "from-env", REGENT__ECS__SUBNETS: "subnet-env" });
    expect(
      ecsDefaults(config, {
        ...noFlags,
        cluster: "flows",
        capacityProvider: ["FARGATE_SPOT:3", "FARGATE:2:1"],
        securityGroup: ["sg-1"],
        assignPublicIp: true,
        taskRoleArn: "arn:aws:iam::123456789012:role/flow",
        logGroup: "/regent/flows",
      }),
    ).toEqual({
      cluster: "flows",
      capacityProviderStrategy: [
        { capacityProvider: "FARGATE_SPOT", weight: 3 },
        { capacityProvider: "FARGATE", weight: 2, base: 1 },
      ],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ["subnet-env"], securityGroups: ["sg-1"], assignPublicIp: "ENABLED" },
      },
      taskRoleArn: "arn:aws:iam::123456789012:role/flow",
      logConfiguration: {
        logDriver: "awslogs",
        options: {
          "awslogs-group": "/regent/flows",
          "awslogs-region": "eu-west-1",
          "awslogs-stream-prefix": "flow",
        },
      },
    });
  });

  const refused: Array<[Partial<EcsAgentFlags>, RegExp]> = [
    [
      { launchType: "FARGATE", capacityProvider: ["FARGATE_SPOT"] },
      /--launch-type or --capacity-provider, not both/,
    ],
    [{ launchType: "SPOT" }, /--launch-type is FARGATE, EC2 or EXTERNAL/],
    [{ securityGroup: ["sg-1"] }, /--security-group goes with --subnet/],
    [{ capacityProvider: ["FARGATE:x"] }, /a capacity provider is NAME\[:WEIGHT\[:BASE\]\]/],
    [{ runTaskKwargs: "/nonexistent/kwargs.json" }, /--run-task-kwargs \/nonexistent\/kwargs.json: ENOENT/],
  ];
  test.for(refused)("%j is refused", ([flags, why]) => {
    expect(() => ecsDefaults(fromEnv({}), { ...noFlags, ...flags })).toThrow(why);
  });
});
