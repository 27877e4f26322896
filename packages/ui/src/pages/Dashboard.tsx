import { graphql } from "@regent/client";
import { useMemo, useState } from "react";
import { Link } from "wouter";
import { useGql } from "../api.js";
import { ErrorBox, Loading } from "../components/Notice.js";
import { RunChart } from "../components/RunChart.js";
import { RunsTable } from "../components/RunsTable.js";
import { StateBadge } from "../components/StateBadge.js";
import { ago } from "../format.js";
import { AGENT_GONE_MS } from "./Agents.js";

const Dashboard = graphql(`
  query UiDashboard($since: timestamptz!, $now: timestamptz!) {
    success: flow_run_aggregate(where: { state: { _eq: "Success" }, scheduled_start_time: { _gte: $since } }) { aggregate { count } }
    failed: flow_run_aggregate(where: { state: { _in: ["Failed", "TimedOut"] }, scheduled_start_time: { _gte: $since } }) { aggregate { count } }
    cancelled: flow_run_aggregate(where: { state: { _eq: "Cancelled" }, scheduled_start_time: { _gte: $since } }) { aggregate { count } }
    running: flow_run_aggregate(where: { state: { _in: ["Submitted", "Running", "Retrying", "Cancelling"] } }) { aggregate { count } }
    scheduled: flow_run_aggregate(where: { state: { _eq: "Scheduled" } }) { aggregate { count } }
    late: flow_run_aggregate(where: { state: { _eq: "Scheduled" }, late_reason: { _is_null: false } }) { aggregate { count } }
    running_now: flow_run(where: { state: { _in: ["Submitted", "Running", "Retrying", "Cancelling"] } }, order_by: [{ start_time: desc }], limit: 10) {
      id name state state_message scheduled_start_time start_time end_time flow { id name }
    }
    upcoming: flow_run(where: { state: { _eq: "Scheduled" }, scheduled_start_time: { _gte: $now } }, order_by: [{ scheduled_start_time: asc }], limit: 10) {
      id name state state_message scheduled_start_time start_time end_time flow { id name }
    }
    failures: flow_run(where: { state: { _in: ["Failed", "TimedOut"] } }, order_by: [{ state_timestamp: desc }], limit: 10) {
      id name state state_message state_timestamp flow { id name }
    }
    agent(order_by: [{ last_seen: desc }], limit: 50) { id name type last_seen }
  }
`);

const WINDOWS = { "24 h": 86_400_000, "7 d": 7 * 86_400_000 } as const;

/** What needs a look first: recent outcomes, what is running and coming, failures, agents' health. */
export function DashboardPage() {
  const [window, setWindow] = useState<keyof typeof WINDOWS>("24 h");
  // Rounded to the minute, so that the query's key (and its cache) holds still between re-reads.
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const vars = useMemo(
    () => ({ since: new Date(minute - WINDOWS[window]).toISOString(), now: new Date(minute).toISOString() }),
    [minute, window],
  );
  const { data, error, isPending } = useGql(["dashboard", vars], Dashboard, vars, { every: 3_000 });
  if (error) return <ErrorBox error={error} what="load the dashboard" />;
  if (isPending || !data) return <Loading />;
  const tiles = [
    {
      label: `Succeeded (${window})`,
      n: data.success.aggregate.count,
      tone: "ok",
      href: "/runs?state=Success",
    },
    { label: `Failed (${window})`, n: data.failed.aggregate.count, tone: "bad", href: "/runs?state=Failed" },
    {
      label: `Cancelled (${window})`,
      n: data.cancelled.aggregate.count,
      tone: "muted",
      href: "/runs?state=Cancelled",
    },
    { label: "Running now", n: data.running.aggregate.count, tone: "run", href: "/runs?state=Running" },
    { label: "Scheduled", n: data.scheduled.aggregate.count, tone: "wait", href: "/runs?state=Scheduled" },
    {
      label: "Late",
      n: data.late.aggregate.count,
      tone: data.late.aggregate.count ? "warn" : "muted",
      href: "/runs?state=Scheduled",
    },
  ];
  const healthy = data.agent.filter((a) => Date.now() - Date.parse(a.last_seen) < AGENT_GONE_MS);
  return (
    <section>
      <div className="page-head">
        <h1>Dashboard</h1>
        <select
          aria-label="Window"
          value={window}
          onChange={(e) => setWindow(e.target.value as keyof typeof WINDOWS)}
        >
          {Object.keys(WINDOWS).map((w) => (
            <option key={w}>{w}</option>
          ))}
        </select>
      </div>
      <div className="tiles">
        {tiles.map((t) => (
          <Link key={t.label} href={t.href} className={`tile tile-${t.tone}`}>
            <div className="tile-n">{t.n.toLocaleString()}</div>
            <div className="tile-label">{t.label}</div>
          </Link>
        ))}
      </div>
      <div className="card">
        <h2>Runs by state, per {window === "24 h" ? "hour" : "day"} of their scheduled start</h2>
        <RunChart since={vars.since} until={vars.now} bucket={window === "24 h" ? "hour" : "day"} />
      </div>
      <div className="columns">
        <div className="card">
          <h2>Running now</h2>
          {data.running_now.length ? (
            <RunsTable runs={data.running_now} />
          ) : (
            <div className="muted">Nothing is running.</div>
          )}
        </div>
        <div className="card">
          <h2>Upcoming</h2>
          {data.upcoming.length ? (
            <RunsTable runs={data.upcoming} />
          ) : (
            <div className="muted">
              No scheduled runs. Give a flow a schedule, or <Link href="/flows">quick-run one</Link>.
            </div>
          )}
        </div>
      </div>
      <div className="columns">
        <div className="card">
          <h2>Recent failures</h2>
          {data.failures.length === 0 ? <div className="muted">No failures. </div> : null}
          <ul className="failures">
            {data.failures.map((f) => (
              <li key={f.id}>
                <StateBadge state={f.state} /> <Link href={`/runs/${f.id}`}>{f.name}</Link>{" "}
                <span className="muted small">
                  {f.flow?.name} · {ago(f.state_timestamp)}
                </span>
                {f.state_message ? <div className="small">{f.state_message}</div> : null}
              </li>
            ))}
          </ul>
        </div>
        <div className="card">
          <h2>Agents</h2>
          {data.agent.length === 0 ? (
            <div className="muted">
              No agent has registered: runs wait until one does (<code>npx regent agent local start</code>).
            </div>
          ) : (
            <div>
              {healthy.length} of {data.agent.length} healthy. <Link href="/agents">See agents</Link>
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
