import { describe, expect, test } from "vitest";
import { FARGATE_CPUS, fargateMemories, fargateSizeProblem } from "./fargate.js";

describe("Fargate task sizes", () => {
  test.for([
    [256, [512, 1024, 2048]],
    [512, [1024, 2048, 3072, 4096]],
    [1024, [2048, 3072, 4096, 5120, 6144, 7168, 8192]],
    [3000, []],
  ] as const)("cpu %i takes memory %j", ([cpu, memories]) => {
    expect(fargateMemories(cpu)).toEqual(memories);
  });

  test("the largest sizes step by 4 and 8 GiB", () => {
    expect(fargateMemories(8192)).toEqual([
      16384, 20480, 24576, 28672, 32768, 36864, 40960, 45056, 49152, 53248, 57344, 61440,
    ]);
    expect(fargateMemories(16384)[0]).toBe(32768);
    expect(fargateMemories(16384).at(-1)).toBe(122880);
    expect(fargateMemories(4096)).toHaveLength(23);
    expect(FARGATE_CPUS).toEqual([256, 512, 1024, 2048, 4096, 8192, 16384]);
  });

  test.for([
    [256, 512],
    [512, 4096],
    [2048, 16384],
    [4096, 30720],
    [16384, 122880],
    [undefined, 3000],
    [1024, undefined],
    [undefined, undefined],
  ] as const)("cpu %s with memory %s is a size", ([cpu, memory]) => {
    expect(fargateSizeProblem(cpu, memory)).toBeUndefined();
  });

  test.for([
    [
      256,
      4096,
      "Fargate has no task size with cpu 256 and memory 4096 MiB: with cpu 256, memory is 512, 1024, 2048 MiB; memory 4096 MiB goes with cpu 512, 1024 or 2048",
    ],
    [
      1024,
      1000,
      "Fargate has no task size with cpu 1024 and memory 1000 MiB: with cpu 1024, memory is 2048–8192 MiB in steps of 1024",
    ],
    [
      1024,
      9216,
      "Fargate has no task size with cpu 1024 and memory 9216 MiB: with cpu 1024, memory is 2048–8192 MiB in steps of 1024; memory 9216 MiB goes with cpu 2048 or 4096",
    ],
    [
      300,
      1024,
      "Fargate has no task size with cpu 300: cpu is one of 256, 512, 1024, 2048, 4096, 8192, 16384 (CPU units; 1024 = 1 vCPU)",
    ],
  ] as const)("cpu %i with memory %i is refused, saying which sizes there are", ([cpu, memory, why]) => {
    expect(fargateSizeProblem(cpu, memory)).toBe(why);
  });
});
