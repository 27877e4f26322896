import { graphql } from "@regent/client";
import { useLocation, useSearch } from "wouter";
import { useGql } from "../api.js";
import { Empty, ErrorBox, Loading } from "../components/Notice.js";
import { Pager } from "../components/Pager.js";
import { RunsTable } from "../components/RunsTable.js";

const PAGE = 50;
const STATES = ["Scheduled", "Submitted", "Running", "Paused", "Success", "Failed", "Cancelled", "TimedOut"];

const Runs = graphql(`
  query UiRuns($where: flow_run_bool_exp!, $offset: Int!, $limit: Int!) {
    flow_run(where: $where, order_by: [{ scheduled_start_time: desc }, { id: desc }], offset: $offset, limit: $limit) {
      id name state state_message scheduled_start_time start_time end_time flow { id name }
    }
    flow_run_aggregate(where: $where) { aggregate { count } }
  }
`);

/** Every flow run, newest first, a page at a time from the server, filterable by state (in the URL). */
export function RunsPage() {
  const params = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const state = params.get("state") ?? "";
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const go = (next: { state?: string; offset?: number }) => {
    const q = new URLSearchParams();
    const s = next.state ?? state;
    if (s) q.set("state", s);
    if (next.offset) q.set("offset", String(next.offset));
    navigate(`/runs${q.size ? `?${q}` : ""}`);
  };
  const where = state ? { state: { _eq: state } } : {};
  const { data, error, isPending } = useGql(
    ["runs", state, offset],
    Runs,
    { where, offset, limit: PAGE },
    { every: 3_000 },
  );
  return (
    <section>
      <div className="page-head">
        <h1>Flow runs</h1>
        <select aria-label="State" value={state} onChange={(e) => go({ state: e.target.value, offset: 0 })}>
          <option value="">all states</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      {error ? <ErrorBox error={error} what="load the flow runs" /> : null}
      {isPending ? <Loading /> : null}
      {data && data.flow_run.length === 0 ? (
        <Empty title={state ? `No ${state} runs.` : "No flow runs yet."}>
          Open a flow and use its quick run form, or run{" "}
          <code>npx regent run --name hello --project demo</code>.
        </Empty>
      ) : null}
      {data && data.flow_run.length > 0 ? (
        <div className="card">
          <RunsTable runs={data.flow_run} />
          <Pager
            offset={offset}
            size={PAGE}
            total={data.flow_run_aggregate.aggregate.count}
            onOffset={(o) => go({ offset: o })}
          />
        </div>
      ) : null}
    </section>
  );
}
