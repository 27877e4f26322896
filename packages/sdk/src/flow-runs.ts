import { graphql, type RegentClient } from "@regent/client";
import { FINAL_STATES, InvalidUsageError, RegentError, type RunStateType } from "@regent/core";
import { abortableSleep } from "./internal/abortable-sleep.js";
import { runScope } from "./internal/context.js";

/** How a run reaches its server: set by the executor. */
export interface ServerLink {
  readonly client: RegentClient;
  readonly flowRunId: string;
}

/** Largest flow result (as JSON) kept with the final state for a parent to read. */
export const MAX_RESULT_BYTES = 256 * 1024;

/** `{ result }` for a final state's data, when the value is JSON and small enough; otherwise undefined. */
export function resultData(value: unknown): { result: unknown } | undefined {
  if (value === undefined) return undefined;
  try {
    const text = JSON.stringify(value);
    if (text === undefined || Buffer.byteLength(text) > MAX_RESULT_BYTES) return undefined;
    return { result: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

const FlowByName = graphql(`
  query ChildFlow($name: String!, $project: String!) {
    flow(
      where: { name: { _eq: $name }, archived: { _eq: false }, project: { name: { _eq: $project } } }
      order_by: [{ version: desc }]
      limit: 1
    ) { version_group_id }
  }
`);
const CreateChild = graphql(`
  mutation CreateChildRun($input: create_flow_run_input!) { create_flow_run(input: $input) { id flow_run { name state } } }
`);
const RestartChild = graphql(`
  mutation RestartChildRun($id: uuid!) { restart_flow_run(input: { flow_run_id: $id }) { id } }
`);

/** A child left failed by an earlier execution of its parent: restarting the parent restarts it too. */
const RESTART_CHILD: ReadonlySet<string> = new Set(["Failed", "Cancelled", "TimedOut"]);
const ChildState = graphql(`
  query ChildRunState($id: uuid!) {
    flow_run_by_pk(id: $id) { state state_message state_version states(order_by: [{ version: desc }], limit: 1) { data } }
  }
`);

export interface StartFlowRunOptions {
  /** The flow's name and project: its newest version runs. */
  readonly name: string;
  readonly project: string;
  readonly parameters?: Record<string, unknown>;
  /** The run's labels, instead of the flow's (which agents may take it). */
  readonly labels?: string[];
  readonly runName?: string;
  readonly scheduledStartTime?: Date;
}

/** A flow run started by another. */
export interface ChildFlowRun {
  readonly id: string;
  readonly name: string;
  /** Resolves when the run is final, with its final state. */
  wait(options?: {
    pollMs?: number;
    signal?: AbortSignal;
  }): Promise<{ state: RunStateType; message: string | null }>;
  /**
   * Waits, then gives the run's result (what its flow function returned, when it was JSON of at most
   * 256 KB); rejects with an error naming the state when the run did not succeed.
   */
  result<R = unknown>(options?: { pollMs?: number; signal?: AbortSignal }): Promise<R>;
}

/**
 * Starts a run of a registered flow (its newest version, by name and project) from inside a flow run
 * that an agent started, linked to it as its child (`parent_flow_run_id`): a flow of flows. The run is
 * keyed by the parent and the order of the call, so a parent run again after a crash starts no twin; a
 * restarted or resumed parent finds the child its earlier execution started (restarting it when it
 * failed, as it runs its own failed task runs again).
 * `await child.result()` waits for it (polling, 1 s by default, up to 5 s between looks) and gives its
 * result.
 */
export async function startFlowRun(options: StartFlowRunOptions): Promise<ChildFlowRun> {
  const engine = runScope.getStore()?.engine;
  const server = engine?.server;
  if (!engine || !server)
    throw new InvalidUsageError(
      "startFlowRun runs a registered flow through the server: call it inside a flow run an agent started (regent run --name …, a schedule), not in a local run of a file",
    );
  const { client, flowRunId } = server;
  const [flow] = (await client.request(FlowByName, { name: options.name, project: options.project })).flow;
  if (!flow)
    throw new RegentError("FLOW_NOT_FOUND", `no flow ${options.name} in project ${options.project} to start`);
  const index = ++engine.childRuns;
  const { create_flow_run: created } = await client.request(CreateChild, {
    input: {
      version_group_id: flow.version_group_id,
      parameters: options.parameters ?? {},
      parent_flow_run_id: flowRunId,
      idempotency_key: `child:${flowRunId}:${index}`,
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.runName ? { flow_run_name: options.runName } : {}),
      ...(options.scheduledStartTime
        ? { scheduled_start_time: options.scheduledStartTime.toISOString() }
        : {}),
    },
  });
  const id = created.id;
  const name = created.flow_run.name;
  if (engine.resume.previous && RESTART_CHILD.has(created.flow_run.state))
    await client.request(RestartChild, { id });
  const poll = async (pollMs = 1_000, signal?: AbortSignal) => {
    let delay = pollMs;
    for (;;) {
      const { flow_run_by_pk: run } = await client.request(ChildState, { id });
      if (!run) throw new RegentError("FLOW_RUN_NOT_FOUND", `flow run ${name} (${id}) is gone`);
      if (FINAL_STATES.has(run.state as RunStateType)) return run;
      await abortableSleep(delay, signal);
      delay = Math.min(delay * 1.5, Math.max(pollMs, 5_000));
    }
  };
  return {
    id,
    name,
    async wait(o = {}) {
      const run = await poll(o.pollMs, o.signal);
      return { state: run.state as RunStateType, message: run.state_message ?? null };
    },
    async result<R>(o: { pollMs?: number; signal?: AbortSignal } = {}) {
      const run = await poll(o.pollMs, o.signal);
      if (run.state !== "Success")
        throw new RegentError(
          "TASK_FAILED",
          `flow run ${name} of ${options.name} ended ${run.state}${run.state_message ? `: ${run.state_message}` : ""}`,
        );
      return ((run.states[0]?.data as { result?: unknown } | null)?.result ?? undefined) as R;
    },
  };
}
