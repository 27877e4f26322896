import { graphql } from "@regent/client";
import { useGql } from "../api.js";
import { TONE } from "./StateBadge.js";

const Counts = graphql(`
  query UiRunCounts($since: timestamptz!, $until: timestamptz!, $bucket: run_count_bucket!) {
    flow_run_counts(since: $since, until: $until, bucket: $bucket) { bucket state count }
  }
`);

const ORDER = ["ok", "bad", "warn", "run", "wait", "muted"];

/**
 * Runs by state per hour (or day) of their scheduled start, as stacked columns; the database counts
 * them (`flow_run_counts`), so the chart costs the same with a hundred runs or a million.
 */
export function RunChart({ since, until, bucket }: { since: string; until: string; bucket: "hour" | "day" }) {
  const { data } = useGql(
    ["run-counts", since, until, bucket],
    Counts,
    { since, until, bucket },
    { every: 10_000 },
  );
  const step = bucket === "hour" ? 3_600_000 : 86_400_000;
  const first = Math.floor(Date.parse(since) / step) * step;
  const columns: { start: number; byTone: Record<string, number>; byState: Record<string, number> }[] = [];
  for (let t = first; t < Date.parse(until); t += step) columns.push({ start: t, byTone: {}, byState: {} });
  for (const c of data?.flow_run_counts ?? []) {
    const col = columns[Math.floor((Date.parse(c.bucket) - first) / step)];
    if (!col) continue;
    const tone = TONE[c.state] ?? "wait";
    col.byTone[tone] = (col.byTone[tone] ?? 0) + c.count;
    col.byState[c.state] = (col.byState[c.state] ?? 0) + c.count;
  }
  const max = Math.max(1, ...columns.map((c) => Object.values(c.byTone).reduce((a, b) => a + b, 0)));
  const label = (t: number) =>
    new Date(t).toLocaleString(
      undefined,
      bucket === "hour" ? { hour: "2-digit", minute: "2-digit" } : { weekday: "short", day: "numeric" },
    );
  return (
    <div className="chart" data-testid="run-chart">
      {columns.map((c) => {
        const total = Object.values(c.byTone).reduce((a, b) => a + b, 0);
        const title = `${label(c.start)}: ${total} run${total === 1 ? "" : "s"}${Object.entries(c.byState)
          .map(([s, n]) => `\n${n} ${s}`)
          .join("")}`;
        return (
          <div key={c.start} className="chart-col" title={title}>
            <div className="chart-stack" style={{ height: `${(total / max) * 100}%` }}>
              {ORDER.filter((tone) => c.byTone[tone]).map((tone) => (
                <div key={tone} className={`chart-seg state-${tone}`} style={{ flexGrow: c.byTone[tone] }} />
              ))}
            </div>
            <div className="chart-label">{label(c.start)}</div>
          </div>
        );
      })}
    </div>
  );
}
