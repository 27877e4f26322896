import { describe, expect, test } from "vitest";
import { ZodError } from "zod";
import {
  checkRunConfigOverride,
  DockerRunConfigSchema,
  dockerRun,
  type LocalRunConfig,
  LocalRunConfigSchema,
  localRun,
  mergeRunConfig,
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
