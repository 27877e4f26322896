import { describe, expect, test } from "vitest";
import { ZodError } from "zod";
import {
  checkRegisteredRunConfig,
  checkRunConfigOverride,
  DockerRunConfigSchema,
  dockerRun,
  EcsRunConfigSchema,
  ecsRun,
  KubernetesRunConfigSchema,
  kubernetesRun,
  type LocalRunConfig,
  LocalRunConfigSchema,
  localRun,
  mergeRunConfig,
  parseCapacityProvider,
  type RunConfig,
  RunConfigSchema,
} from "./run-config.js";

interface LocalRunCase {
  readonly name: string;
  readonly options: Omit<LocalRunConfig, "type"> | undefined;
  readonly want: LocalRunConfig;
}

interface MergeCase {
  readonly name: string;
  readonly base: RunConfig;
  readonly override: Partial<RunConfig>;
  readonly want: RunConfig;
}

describe("localRun", () => {
  const cases: readonly LocalRunCase[] = [
    { name: "no options", options: undefined, want: { type: "local" } },
    { name: "empty options", options: {}, want: { type: "local" } },
    { name: "env", options: { env: { A: "1", B: "" } }, want: { type: "local", env: { A: "1", B: "" } } },
    {
      name: "working dir",
      options: { workingDir: "/srv/flows" },
      want: { type: "local", workingDir: "/srv/flows" },
    },
    { name: "labels", options: { labels: ["gpu", "eu"] }, want: { type: "local", labels: ["gpu", "eu"] } },
    { name: "empty labels", options: { labels: [] }, want: { type: "local", labels: [] } },
    {
      name: "everything",
      options: { env: { A: "1" }, workingDir: "/w", labels: ["l"] },
      want: { type: "local", env: { A: "1" }, workingDir: "/w", labels: ["l"] },
    },
  ];
  test.for(cases)("$name", ({ options, want }) => {
    expect(localRun(options)).toEqual(want);
  });

  test("the type is always local", () => {
    expect(localRun({ type: "docker" } as unknown as Omit<LocalRunConfig, "type">).type).toBe("local");
  });

  test.for([
    { name: "an unknown key", options: { image: "python:3" } },
    { name: "a misspelt key", options: { workdir: "/w" } },
    { name: "a non-string env value", options: { env: { A: 1 } } },
    { name: "env as an array", options: { env: ["A=1"] } },
    { name: "a non-string working dir", options: { workingDir: 1 } },
    { name: "an empty label", options: { labels: [""] } },
    { name: "labels as a string", options: { labels: "gpu" } },
  ])("rejects $name", ({ options }) => {
    expect(() => localRun(options as unknown as Omit<LocalRunConfig, "type">)).toThrow(ZodError);
  });
});

describe("RunConfigSchema", () => {
  test.for([
    { name: "a local config", input: { type: "local" }, ok: true },
    {
      name: "a local config with fields",
      input: { type: "local", env: { A: "1" }, labels: ["a"] },
      ok: true,
    },
    { name: "an unknown type", input: { type: "nomad", image: "x" }, ok: false },
    { name: "no type", input: { env: {} }, ok: false },
    { name: "an unknown key", input: { type: "local", image: "x" }, ok: false },
    { name: "null", input: null, ok: false },
  ])("$name: ok=$ok", ({ input, ok }) => {
    expect(RunConfigSchema.safeParse(input).success).toBe(ok);
    expect(LocalRunConfigSchema.safeParse(input).success).toBe(ok);
  });
});

describe("mergeRunConfig", () => {
  const base: RunConfig = { type: "local", env: { A: "1", B: "2" }, workingDir: "/base", labels: ["base"] };

  test("no override returns the base", () => {
    expect(mergeRunConfig(base, undefined)).toBe(base);
  });

  const cases: readonly MergeCase[] = [
    { name: "an empty override", base, override: {}, want: base },
    {
      name: "env merges key by key",
      base,
      override: { env: { B: "20", C: "3" } },
      want: { ...base, env: { A: "1", B: "20", C: "3" } },
    },
    {
      name: "an override can blank a variable",
      base,
      override: { env: { A: "" } },
      want: { ...base, env: { A: "", B: "2" } },
    },
    {
      name: "env from the override only",
      base: { type: "local" },
      override: { env: { C: "3" } },
      want: { type: "local", env: { C: "3" } },
    },
    {
      name: "env from the base only",
      base,
      override: { workingDir: "/x" },
      want: { ...base, workingDir: "/x" },
    },
    {
      name: "labels replace, not merge",
      base,
      override: { labels: ["run"] },
      want: { ...base, labels: ["run"] },
    },
    { name: "empty labels replace", base, override: { labels: [] }, want: { ...base, labels: [] } },
    {
      name: "working dir replaces",
      base,
      override: { workingDir: "/run" },
      want: { ...base, workingDir: "/run" },
    },
    {
      name: "neither has env",
      base: { type: "local" },
      override: { labels: ["a"] },
      want: { type: "local", labels: ["a"] },
    },
  ];
  test.for(cases)("$name", ({ base, override, want }) => {
    expect(mergeRunConfig(base, override)).toEqual(want);
  });

  test("does not mutate its inputs", () => {
    const b: RunConfig = { type: "local", env: { A: "1" } };
    const o: Partial<RunConfig> = { env: { B: "2" } };
    mergeRunConfig(b, o);
    expect(b).toEqual({ type: "local", env: { A: "1" } });
    expect(o).toEqual({ env: { B: "2" } });
  });

  test("cannot change the type", () => {
    const override = { type: "docker", env: { C: "3" } } as unknown as Partial<RunConfig>;
    expect(mergeRunConfig(base, override)).toEqual({ ...base, env: { A: "1", B: "2", C: "3" } });
  });

  test.for([
    { name: "an unknown key", override: { image: "x" } },
    { name: "a non-string env value", override: { env: { A: 1 } } },
    { name: "an env that is not an object", override: { env: 5 } },
    { name: "an empty label", override: { labels: [""] } },
  ])("rejects an override with $name", ({ override }) => {
    expect(() => mergeRunConfig(base, override as unknown as Partial<RunConfig>)).toThrow(ZodError);
  });
});

describe("dockerRun", () => {
  const good: Array<[string, Parameters<typeof dockerRun>[0], unknown]> = [
    ["nothing", {}, { type: "docker" }],
    [
      "everything",
      {
        image: "registry.example.com:5000/etl:3",
        env: { A: "1" },
        cpus: 0.5,
        memory: 512,
        network: "etl",
        volumes: ["/data:/data:ro", "cache:/cache"],
        labels: ["docker"],
      },
      {
        type: "docker",
        image: "registry.example.com:5000/etl:3",
        env: { A: "1" },
        cpus: 0.5,
        memory: 512,
        network: "etl",
        volumes: ["/data:/data:ro", "cache:/cache"],
        labels: ["docker"],
      },
    ],
  ];
  test.for(good)("%s", ([, options, want]) => {
    expect(dockerRun(options)).toEqual(want);
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ["zero cpus", { cpus: 0 }, /cpus/],
    ["memory under Docker's minimum", { memory: 4 }, /memory is in MiB; Docker's minimum is 6/],
    ["fractional memory", { memory: 1.5 }, /memory/],
    [
      "a volume without a container path",
      { volumes: ["/data"] },
      /a volume is \\"host-path-or-name:\/container\/path\\"/,
    ],
    ["a relative container path", { volumes: ["/data:data"] }, /a volume is/],
    ["an unknown field", { cpu: 2 }, /cpu/],
  ];
  test.for(bad)("%s is refused", ([, options, why]) => {
    const parsed = DockerRunConfigSchema.safeParse({ type: "docker", ...options });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(why);
  });

  test("a run's override merges over a docker config: fields replace, env merges", () => {
    expect(
      mergeRunConfig(
        { type: "docker", image: "etl:1", memory: 512, env: { A: "1", B: "2" } },
        { memory: 1024, env: { B: "3" } },
      ),
    ).toEqual({ type: "docker", image: "etl:1", memory: 1024, env: { A: "1", B: "3" } });
  });
});

describe("what a run's own override may not set", () => {
  test("volumes come only from the flow's registered run config", () => {
    expect(() =>
      checkRunConfigOverride({ type: "docker", image: "etl:1" }, { volumes: ["/:/host"] }),
    ).toThrow(/run_config.volumes is set with the flow's run config \(when it is registered\), not per run/);
    expect(checkRunConfigOverride({ type: "docker", image: "etl:1" }, { memory: 64 })).toEqual({
      type: "docker",
      image: "etl:1",
      memory: 64,
    });
  });
});

describe("ecsRun", () => {
  const role = "arn:aws:iam::123456789012:role/regent-flow";
  const good: Array<[string, Parameters<typeof ecsRun>[0]]> = [
    ["nothing", {}],
    ["a Fargate size", { cpu: 512, memory: 2048 }],
    ["only memory (the task definition's cpu)", { memory: 3000 }],
    [
      "Fargate Spot with an on-demand base",
      {
        cpu: 1024,
        memory: 4096,
        capacityProviderStrategy: [
          { capacityProvider: "FARGATE_SPOT", weight: 3 },
          { capacityProvider: "FARGATE", base: 1, weight: 2 },
        ],
      },
    ],
    ["EC2 with any size", { launchType: "EC2", cpu: 300, memory: 700 }],
    [
      "everything",
      {
        image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl:3",
        env: { A: "1" },
        taskRoleArn: role,
        executionRoleArn: role,
        cluster: "flows",
        launchType: "FARGATE",
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: ["subnet-1"],
            securityGroups: ["sg-1"],
            assignPublicIp: "DISABLED",
          },
        },
        repositoryCredentials: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry",
        logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/regent/flows" } },
        runTaskKwargs: { enableExecuteCommand: true },
        labels: ["ecs"],
      },
    ],
  ];
  test.for(good)("%s", ([, options]) => {
    expect(ecsRun(options)).toEqual({ type: "ecs", ...options });
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      "a size Fargate does not have",
      { cpu: 256, memory: 4096 },
      /with cpu 256, memory is 512, 1024, 2048 MiB/,
    ],
    ["a cpu Fargate does not have", { cpu: 300 }, /cpu is one of 256, 512, 1024/],
    [
      "Fargate Spot with a wrong size",
      { cpu: 1024, memory: 1024, capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT" }] },
      /memory is 2048–8192 MiB/,
    ],
    [
      "both a launch type and a strategy",
      { launchType: "FARGATE", capacityProviderStrategy: [{ capacityProvider: "FARGATE" }] },
      /launchType or capacityProviderStrategy, not both/,
    ],
    [
      "a template and an ARN",
      { taskDefinition: {}, taskDefinitionArn: "arn:x" },
      /give one of taskDefinition/,
    ],
    [
      "a template file and an ARN",
      { taskDefinitionPath: "/t.yaml", taskDefinitionArn: "arn:x" },
      /give one of/,
    ],
    ["a role that is not an ARN", { taskRoleArn: "regent-flow" }, /an IAM role ARN/],
    ["no subnets", { networkConfiguration: { awsvpcConfiguration: { subnets: [] } } }, /subnets/],
    ["an unknown launch type", { launchType: "SPOT" }, /launchType/],
    ["docker's cpus", { cpus: 1 }, /cpus/],
  ];
  test.for(bad)("%s is refused", ([, options, why]) => {
    const parsed = EcsRunConfigSchema.safeParse({ type: "ecs", ...options });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(why);
  });

  test("a run may change cpu and memory (checked as a pair), not the task's role, network or task definition", () => {
    const base = { type: "ecs", cpu: 512, memory: 1024, taskRoleArn: role };
    expect(checkRunConfigOverride(base, { cpu: 1024, memory: 8192 })).toMatchObject({
      cpu: 1024,
      memory: 8192,
    });
    expect(() => checkRunConfigOverride(base, { memory: 8192 })).toThrow(
      /invalid run_config: memory: Fargate has no task size with cpu 512 and memory 8192 MiB: with cpu 512, memory is 1024, 2048, 3072, 4096 MiB; memory 8192 MiB goes with cpu 1024, 2048 or 4096/,
    );
    for (const field of [
      "taskRoleArn",
      "executionRoleArn",
      "taskDefinitionArn",
      "networkConfiguration",
      "runTaskKwargs",
    ])
      expect(() => checkRunConfigOverride(base, { [field]: "x" })).toThrow(
        new RegExp(`run_config.${field} is set with the flow's run config`),
      );
  });
});

describe("parseCapacityProvider", () => {
  test.for([
    ["FARGATE_SPOT", { capacityProvider: "FARGATE_SPOT" }],
    ["FARGATE_SPOT:3", { capacityProvider: "FARGATE_SPOT", weight: 3 }],
    ["FARGATE:2:1", { capacityProvider: "FARGATE", weight: 2, base: 1 }],
    [" my-asg-provider:1 ", { capacityProvider: "my-asg-provider", weight: 1 }],
  ] as const)("%s", ([text, want]) => {
    expect(parseCapacityProvider(text)).toEqual(want);
  });
  test.for(["", "FARGATE:x", "FARGATE:1:2:3", "a b", "FARGATE:-1"])("%j is refused", (text) => {
    expect(() => parseCapacityProvider(text)).toThrow(/a capacity provider is NAME\[:WEIGHT\[:BASE\]\]/);
  });
});

describe("checkRegisteredRunConfig", () => {
  test.for([
    null,
    undefined,
    { env: { A: "1" } },
    { type: "ecs", cpu: 512, memory: 1024 },
    { type: "docker", memory: 64 },
  ])("%j is registered", (config) => {
    expect(() => checkRegisteredRunConfig(config)).not.toThrow();
  });
  test.for([
    [
      { type: "ecs", cpu: 512, memory: 8192 },
      /invalid run_config: memory: Fargate has no task size with cpu 512 and memory 8192 MiB/,
    ],
    [{ type: "docker", volumes: ["/data"] }, /invalid run_config: volumes.0: a volume is/],
    [{ type: "nope" }, /invalid run_config: type/],
    [[1], /run_config must be an object/],
  ] as const)("%j is refused", ([config, why]) => {
    expect(() => checkRegisteredRunConfig(config)).toThrow(why);
  });
});

describe("kubernetesRun", () => {
  test("everything, as Kubernetes writes it", () => {
    const config = {
      image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/flows/etl:3",
      env: { A: "1" },
      cpuRequest: "500m",
      cpuLimit: "2",
      memoryRequest: "512Mi",
      memoryLimit: "1.5Gi",
      namespace: "flows",
      serviceAccountName: "regent-flow",
      imagePullSecrets: ["registry"],
      imagePullPolicy: "IfNotPresent" as const,
      jobTemplate: { spec: { activeDeadlineSeconds: 3600 } },
      labels: ["k8s"],
    };
    expect(kubernetesRun(config)).toEqual({ type: "kubernetes", ...config });
  });
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      "a memory in MB words",
      { memoryLimit: "1 GB" },
      /memoryLimit is a Kubernetes quantity, e.g. \\"512Mi\\"/,
    ],
    ["a cpu in vCPUs words", { cpuRequest: "half" }, /cpuRequest is a Kubernetes quantity/],
    ["a namespace with capitals", { namespace: "Flows" }, /a namespace name/],
    ["an unknown pull policy", { imagePullPolicy: "Sometimes" }, /imagePullPolicy/],
    ["docker's memory in MiB", { memory: 512 }, /memory/],
  ];
  test.for(bad)("%s is refused", ([, options, why]) => {
    const parsed = KubernetesRunConfigSchema.safeParse({ type: "kubernetes", ...options });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(why);
  });
  test("a run may change resources and the image, not the namespace, service account or template", () => {
    const base = { type: "kubernetes", memoryLimit: "1Gi", namespace: "flows" };
    expect(checkRunConfigOverride(base, { memoryLimit: "4Gi", cpuLimit: "2" })).toMatchObject({
      memoryLimit: "4Gi",
    });
    for (const field of ["namespace", "serviceAccountName", "jobTemplate"])
      expect(() => checkRunConfigOverride(base, { [field]: "x" })).toThrow(
        new RegExp(`run_config.${field} is set with the flow's run config`),
      );
  });
});
