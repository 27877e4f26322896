import { FARGATE_CPUS, fargateMemories, usesFargate } from "@regent/core";

/** One per-run size field of the quick-run form, as the flow's run config type names and measures it. */
export interface SizeField {
  /** The run config field it sets: `cpus`, `memory`, `cpu`, `cpuLimit`, `memoryLimit`. */
  readonly key: string;
  readonly label: string;
  /** `number` fields are sent as numbers; `quantity` ones as Kubernetes quantity strings. */
  readonly kind: "number" | "quantity";
  /** The flow's own value, shown as the placeholder. */
  readonly current: string;
  /** Choices, when the platform has a fixed set (Fargate CPU sizes). */
  readonly options?: readonly number[];
  readonly hint?: string;
}

const asText = (v: unknown) => (v === undefined || v === null ? "" : String(v));

/**
 * The CPU and memory fields a run of a flow with this run config can override, in the run config's own
 * units; none for a local run config. `cpu` is the CPU chosen so far (for Fargate's memory hint).
 */
export function sizeFields(runConfig: unknown, cpu?: string): SizeField[] {
  const c = (runConfig ?? {}) as Record<string, unknown>;
  switch (c.type) {
    case "docker":
      return [
        {
          key: "cpus",
          label: "CPUs",
          kind: "number",
          current: asText(c.cpus),
          hint: "fractional CPUs, e.g. 1.5",
        },
        { key: "memory", label: "Memory (MiB)", kind: "number", current: asText(c.memory) },
      ];
    case "ecs": {
      const fargate = usesFargate(c as never);
      const chosen = Number(cpu || c.cpu);
      const memories = fargate && chosen ? fargateMemories(chosen) : [];
      return [
        {
          key: "cpu",
          label: "CPU (units, 1024 = 1 vCPU)",
          kind: "number",
          current: asText(c.cpu),
          ...(fargate ? { options: FARGATE_CPUS } : {}),
        },
        {
          key: "memory",
          label: "Memory (MiB)",
          kind: "number",
          current: asText(c.memory),
          ...(memories.length
            ? {
                hint: `Fargate with ${chosen} CPU units: ${memories[0]}–${memories.at(-1)} MiB (${memories.join(", ")})`,
              }
            : {}),
        },
      ];
    }
    case "kubernetes":
      return [
        {
          key: "cpuLimit",
          label: "CPU limit",
          kind: "quantity",
          current: asText(c.cpuLimit),
          hint: 'e.g. "500m", "2"',
        },
        {
          key: "memoryLimit",
          label: "Memory limit",
          kind: "quantity",
          current: asText(c.memoryLimit),
          hint: 'e.g. "512Mi", "2Gi"',
        },
      ];
    default:
      return [];
  }
}

/** The size fields' typed values as run config fields (empty ones left out; numbers as numbers). */
export function sizeOverrides(
  fields: readonly SizeField[],
  texts: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const text = (texts[f.key] ?? "").trim();
    if (!text) continue;
    out[f.key] = f.kind === "number" && Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return out;
}
