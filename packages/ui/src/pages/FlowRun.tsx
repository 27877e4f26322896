import { graphql } from "@regent/client";
import { isFinal, type RunStateType, redactSensitive } from "@regent/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useState } from "react";
import { Link } from "wouter";
import { client, errorMessage, useGql, useLiveInvalidation } from "../api.js";
import { RunLogs } from "../components/Logs.js";
import { Empty, ErrorBox, Loading } from "../components/Notice.js";
import { StateBadge } from "../components/StateBadge.js";
import { duration, when } from "../format.js";

const Run = graphql(`
  query UiFlowRun($id: uuid!) {
    flow_run_by_pk(id: $id) {
      id name state state_message state_version parameters labels run_config scheduled_start_time start_time
      end_time restart_count lazarus_count
      flow { id name version project { name } }
      agent { id name type }
      states(order_by: [{ version: asc }]) { id state message timestamp }
      task_runs(order_by: [{ created: asc }], limit: 2000) {
        id task_key task_name map_index state state_message attempts start_time end_time parent_task_run_id upstream
      }
    }
  }
`);
const LiveStates = graphql(`
  subscription UiRunStates($id: uuid!) { flow_run_states(flow_run_id: $id) { kind state } }
`);
const Mark = graphql(`
  mutation UiMark($id: uuid!, $version: Int!, $type: state_type!, $message: String!) {
    set_flow_run_states(input: { states: [{ flow_run_id: $id, version: $version, state: { type: $type, message: $message } }] }) {
      refused { message }
    }
  }
`);
const Cancel = graphql(
  `mutation UiCancel($id: uuid!) { cancel_flow_run(input: { flow_run_id: $id }) { state } }`,
);
const Restart = graphql(
  `mutation UiRestart($id: uuid!) { restart_flow_run(input: { flow_run_id: $id }) { state } }`,
);
const Resume = graphql(
  `mutation UiResume($id: uuid!) { resume_flow_run(input: { flow_run_id: $id }) { state } }`,
);

const Schematic = lazy(() => import("../components/Schematic.js"));

type Action = "Failed" | "Success" | "cancel" | "restart" | "resume";

/** A flow run: its state (live), history, task runs, logs, and what a person may do to it. */
export function FlowRunPage({ id }: { id: string }) {
  const { data, error, isPending } = useGql(["run", id], Run, { id }, { every: 5_000 });
  useLiveInvalidation(LiveStates, { id }, [["run", id]]);
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState<Action | undefined>();
  const act = useMutation({
    mutationFn: async (action: Action) => {
      const run = data?.flow_run_by_pk;
      if (!run) return;
      if (action === "cancel") await client.request(Cancel, { id });
      else if (action === "restart") await client.request(Restart, { id });
      else if (action === "resume") await client.request(Resume, { id });
      else {
        const { set_flow_run_states } = await client.request(Mark, {
          id,
          version: run.state_version,
          type: action,
          message: `marked ${action} from the UI`,
        });
        const refused = set_flow_run_states.refused[0];
        if (refused) throw new Error(refused.message ?? "the server refused the new state");
      }
    },
    onSettled: () => {
      setConfirming(undefined);
      void queryClient.invalidateQueries({ queryKey: ["run", id] });
    },
  });
  if (error) return <ErrorBox error={error} what="load the flow run" />;
  if (isPending) return <Loading />;
  const run = data?.flow_run_by_pk;
  if (!run)
    return (
      <Empty title="No such flow run.">
        It may have been deleted by retention. <Link href="/runs">See all runs</Link>.
      </Empty>
    );
  const state = run.state as RunStateType;
  const actions: { action: Action; label: string; when: boolean }[] = [
    { action: "cancel", label: "Cancel", when: !isFinal(state) && state !== "Cancelling" },
    { action: "resume", label: "Resume", when: state === "Paused" },
    { action: "restart", label: "Restart", when: ["Failed", "Cancelled", "TimedOut"].includes(state) },
    { action: "Failed", label: "Mark Failed", when: state !== "Failed" },
    { action: "Success", label: "Mark Success", when: state !== "Success" },
  ];
  const byState = new Map<string, number>();
  for (const t of run.task_runs) byState.set(t.state, (byState.get(t.state) ?? 0) + 1);
  return (
    <section>
      <div className="page-head">
        <h1>
          {run.name} <StateBadge state={run.state} />
        </h1>
        {run.flow ? (
          <span className="muted">
            flow <Link href={`/flows/${run.flow.id}`}>{run.flow.name}</Link> v{run.flow.version} · project{" "}
            {run.flow.project?.name}
          </span>
        ) : null}
      </div>
      {run.state_message ? <div className="state-message">{run.state_message}</div> : null}
      <div className="actions">
        {actions
          .filter((a) => a.when)
          .map((a) =>
            confirming === a.action ? (
              <span key={a.action} className="confirm">
                {a.label}?{" "}
                <button
                  type="button"
                  className="danger"
                  onClick={() => act.mutate(a.action)}
                  disabled={act.isPending}
                >
                  Yes
                </button>{" "}
                <button type="button" onClick={() => setConfirming(undefined)}>
                  No
                </button>
              </span>
            ) : (
              <button key={a.action} type="button" onClick={() => setConfirming(a.action)}>
                {a.label}
              </button>
            ),
          )}
        {act.error ? (
          <span className="error-text" role="alert">
            {errorMessage(act.error)}
          </span>
        ) : null}
      </div>
      <div className="columns">
        <div className="card">
          <h2>Run</h2>
          <dl>
            <dt>Scheduled</dt>
            <dd>{when(run.scheduled_start_time)}</dd>
            <dt>Started</dt>
            <dd>{when(run.start_time)}</dd>
            <dt>Duration</dt>
            <dd>{duration(run.start_time, run.end_time)}</dd>
            <dt>Agent</dt>
            <dd>{run.agent ? `${run.agent.name} (${run.agent.type})` : "—"}</dd>
            <dt>Labels</dt>
            <dd>{(run.labels as string[]).join(", ") || "none"}</dd>
            <dt>Executions</dt>
            <dd>
              {run.restart_count + 1}
              {run.lazarus_count ? ` (${run.lazarus_count} by Lazarus)` : ""}
            </dd>
            <dt>Parameters</dt>
            <dd>
              <code>{JSON.stringify(run.parameters)}</code>
            </dd>
            <dt>Run config</dt>
            <dd>
              <code data-testid="run-config">{JSON.stringify(redactSensitive(run.run_config ?? {}))}</code>
            </dd>
          </dl>
        </div>
        <div className="card">
          <h2>State history</h2>
          <ol className="timeline">
            {run.states.map((s) => (
              <li key={s.id}>
                <StateBadge state={s.state} /> <span className="muted small">{when(s.timestamp)}</span>
                {s.message ? <div className="small">{s.message}</div> : null}
              </li>
            ))}
          </ol>
        </div>
      </div>
      {run.task_runs.length > 0 ? (
        <div className="card">
          <h2>Schematic</h2>
          <Suspense fallback={<div className="loading">Drawing…</div>}>
            <Schematic taskRuns={run.task_runs} />
          </Suspense>
        </div>
      ) : null}
      <div className="card">
        <h2>
          Task runs{" "}
          <span className="muted small">{[...byState].map(([s, n]) => `${n} ${s}`).join(" · ")}</span>
        </h2>
        {run.task_runs.length === 0 ? (
          <div className="muted">No task runs yet.</div>
        ) : (
          <table data-testid="task-runs">
            <thead>
              <tr>
                <th>Task</th>
                <th>State</th>
                <th>Attempts</th>
                <th>Duration</th>
                <th>Message</th>
              </tr>
            </thead>
            <tbody>
              {run.task_runs.map((t) => (
                <tr key={t.id}>
                  <td>
                    {t.task_name}
                    {t.map_index >= 0 ? `[${t.map_index}]` : ""}
                  </td>
                  <td>
                    <StateBadge state={t.state} />
                  </td>
                  <td>{t.attempts}</td>
                  <td>{duration(t.start_time, t.end_time)}</td>
                  <td className="small">{t.state_message ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <RunLogs flowRunId={run.id} />
    </section>
  );
}
