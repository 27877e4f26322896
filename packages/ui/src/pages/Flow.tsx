import { graphql } from "@regent/client";
import { redactSensitive } from "@regent/core";
import { lazy, Suspense } from "react";
import { Link } from "wouter";
import { useGql } from "../api.js";
import { Empty, ErrorBox, Loading } from "../components/Notice.js";
import { QuickRun } from "../components/QuickRun.js";
import { RunsTable } from "../components/RunsTable.js";
import { ScheduleCard } from "../components/ScheduleCard.js";
import { ago } from "../format.js";

const FlowPage = graphql(`
  query UiFlow($id: uuid!) {
    flow_by_pk(id: $id) {
      id name version description parameters_schema run_config labels storage schedule schedule_active
      archived version_group_id updated
      project { id name }
    }
    flow_run(where: { flow_id: { _eq: $id } }, order_by: [{ scheduled_start_time: desc }], limit: 10) {
      id name state state_message scheduled_start_time start_time end_time
    }
    latest: flow_run(where: { flow_id: { _eq: $id }, start_time: { _is_null: false } }, order_by: [{ scheduled_start_time: desc }], limit: 1) {
      id name
      task_runs(order_by: [{ created: asc }], limit: 2000) {
        id task_key task_name map_index state parent_task_run_id upstream
      }
    }
  }
`);

const Schematic = lazy(() => import("../components/Schematic.js"));

const Versions = graphql(`
  query UiFlowVersions($group: uuid!) {
    flow(where: { version_group_id: { _eq: $group } }, order_by: [{ version: desc }], limit: 50) {
      id version archived created
    }
  }
`);

/** A flow: what it is, its versions, quick run, and its recent runs (live). */
export function FlowDetailPage({ id }: { id: string }) {
  const { data, error, isPending } = useGql(["flow", id], FlowPage, { id }, { every: 2_000 });
  const flow = data?.flow_by_pk;
  const versions = useGql(
    ["flow-versions", flow?.version_group_id],
    Versions,
    { group: flow?.version_group_id ?? "" },
    { enabled: Boolean(flow) },
  );
  if (error) return <ErrorBox error={error} what="load the flow" />;
  if (isPending) return <Loading />;
  if (!flow)
    return (
      <Empty title="No such flow.">
        It may have been deleted. <Link href="/flows">See all flows</Link>.
      </Empty>
    );
  return (
    <section>
      <div className="page-head">
        <h1>
          {flow.name} <span className="muted">v{flow.version}</span>
        </h1>
        <span className="muted">project {flow.project?.name}</span>
      </div>
      {flow.archived ? <div className="notice">This version is archived; a newer one is current.</div> : null}
      {flow.description ? <p>{flow.description}</p> : null}
      <div className="columns">
        <QuickRun
          flowId={flow.id}
          parametersSchema={flow.parameters_schema}
          runConfig={flow.run_config}
          labels={flow.labels}
        />
        <div className="card">
          <h2>Details</h2>
          <dl>
            <dt>Labels</dt>
            <dd>{(flow.labels as string[]).length ? (flow.labels as string[]).join(", ") : "none"}</dd>
            <dt>Run config</dt>
            <dd>
              <code data-testid="flow-run-config">
                {JSON.stringify(redactSensitive(flow.run_config ?? { type: "local" }))}
              </code>
            </dd>
            <dt>Storage</dt>
            <dd>
              {String((flow.storage as { type?: string } | null)?.type ?? "database")}
              {typeof (flow.storage as { image?: unknown } | null)?.image === "string" ? (
                <>
                  {" "}
                  <code data-testid="flow-storage-image">{(flow.storage as { image: string }).image}</code>
                </>
              ) : null}
            </dd>
            <dt>Schedule</dt>
            <dd>{flow.schedule ? (flow.schedule_active ? "on (below)" : "paused (below)") : "none"}</dd>
            <dt>Updated</dt>
            <dd>{ago(flow.updated)}</dd>
            <dt>Versions</dt>
            <dd>
              {(versions.data?.flow ?? []).map((v) => (
                <span key={v.id} className="version">
                  {v.id === flow.id ? (
                    <strong>v{v.version}</strong>
                  ) : (
                    <Link href={`/flows/${v.id}`}>v{v.version}</Link>
                  )}
                  {v.archived ? " (archived)" : ""}{" "}
                </span>
              ))}
            </dd>
          </dl>
          <details>
            <summary>Parameters schema</summary>
            <pre>{JSON.stringify(flow.parameters_schema ?? {}, null, 2)}</pre>
          </details>
        </div>
      </div>
      {flow.schedule && !flow.archived ? (
        <ScheduleCard flowId={flow.id} schedule={flow.schedule} active={flow.schedule_active} />
      ) : null}
      {data.latest[0] && data.latest[0].task_runs.length > 0 ? (
        <div className="card">
          <h2>
            Latest run: <Link href={`/runs/${data.latest[0].id}`}>{data.latest[0].name}</Link>
          </h2>
          <Suspense fallback={<div className="loading">Drawing…</div>}>
            <Schematic taskRuns={data.latest[0].task_runs} />
          </Suspense>
        </div>
      ) : null}
      <div className="card">
        <h2>Recent runs</h2>
        {data.flow_run.length === 0 ? (
          <Empty title="No runs yet.">Start one with the quick run form above.</Empty>
        ) : (
          <RunsTable runs={data.flow_run} showFlow={false} />
        )}
      </div>
    </section>
  );
}
