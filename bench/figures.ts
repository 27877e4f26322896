// Small helpers the benchmarks share for the figures they print.
import { cpus } from "node:os";

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Nearest-rank percentile (p in 0–100) of unsorted samples; NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** The machine the figures were taken on. */
export function machine(): { node: string; platform: string; cpus: number; cpuModel: string } {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
  };
}
