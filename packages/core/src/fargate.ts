/**
 * The task sizes Fargate accepts (CPU units → memory in MiB), as AWS documents them: each CPU size has
 * its own memory range and step.
 */
const SIZES: ReadonlyArray<{ cpu: number; min: number; max: number; step: number; also?: number[] }> = [
  { cpu: 256, min: 1024, max: 2048, step: 1024, also: [512] },
  { cpu: 512, min: 1024, max: 4096, step: 1024 },
  { cpu: 1024, min: 2048, max: 8192, step: 1024 },
  { cpu: 2048, min: 4096, max: 16384, step: 1024 },
  { cpu: 4096, min: 8192, max: 30720, step: 1024 },
  { cpu: 8192, min: 16384, max: 61440, step: 4096 },
  { cpu: 16384, min: 32768, max: 122880, step: 8192 },
];

/** The CPU sizes Fargate accepts, in CPU units (1024 = one vCPU). */
export const FARGATE_CPUS: readonly number[] = SIZES.map((s) => s.cpu);

/** The memory sizes (MiB) Fargate accepts with `cpu` units; none for a CPU size it does not offer. */
export function fargateMemories(cpu: number): number[] {
  const size = SIZES.find((s) => s.cpu === cpu);
  if (!size) return [];
  const found = new Set(size.also ?? []);
  for (let m = size.min; m <= size.max; m += size.step) found.add(m);
  return [...found].sort((a, b) => a - b);
}

/** `a`, `a or b`, `a, b or c`. */
const either = (xs: readonly number[]): string =>
  xs.length > 1 ? `${xs.slice(0, -1).join(", ")} or ${xs.at(-1)}` : String(xs[0]);

const range = (cpu: number): string => {
  const m = fargateMemories(cpu);
  return m.length > 4 ? `${m[0]}–${m.at(-1)} MiB in steps of ${m[2]! - m[1]!}` : `${m.join(", ")} MiB`;
};

/**
 * Why `cpu` units with `memory` MiB is not a Fargate task size, listing the sizes that are; undefined
 * when it is one. Either may be unset (the task definition's own is used): only what is set is checked.
 */
export function fargateSizeProblem(cpu: number | undefined, memory: number | undefined): string | undefined {
  if (cpu !== undefined && !FARGATE_CPUS.includes(cpu))
    return `Fargate has no task size with cpu ${cpu}: cpu is one of ${FARGATE_CPUS.join(", ")} (CPU units; 1024 = 1 vCPU)`;
  if (cpu === undefined || memory === undefined) return undefined;
  if (fargateMemories(cpu).includes(memory)) return undefined;
  const options = FARGATE_CPUS.filter((c) => fargateMemories(c).includes(memory));
  return `Fargate has no task size with cpu ${cpu} and memory ${memory} MiB: with cpu ${cpu}, memory is ${range(cpu)}${
    options.length ? `; memory ${memory} MiB goes with cpu ${either(options)}` : ""
  }`;
}
