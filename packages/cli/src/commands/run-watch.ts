import { graphql, type RegentClient } from "@regent/client";
import { RegentError } from "@regent/core";

const Heartbeat = graphql(`
  mutation Heartbeat($id: uuid!, $execution: Int!) {
    flow_run_heartbeat(input: { flow_run_id: $id, restart_count: $execution }) { state superseded interval_ms }
  }
`);
const RunStates = graphql(`
  subscription ExecutorRunStates($id: uuid!) { flow_run_states(flow_run_id: $id, task_runs: false) { kind state } }
`);

/** Before the server has said how often (its first answer does). */
const FIRST_INTERVAL_MS = 2_000;

/**
 * What an executor keeps up while it runs a flow run: heartbeats (Lazarus judges the run by them), and
 * an ear for the run being cancelled — a subscription to its states for a prompt stop, the heartbeat's
 * answer as the fallback. `signal` aborts when the run is Cancelling, or when the server has started it
 * again without this execution (Lazarus took it for lost): then this executor must stop writing.
 */
export function watchRun(
  client: RegentClient,
  run: { id: string; execution: number },
  log: (line: string) => void,
): { readonly signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const closing = new AbortController();
  const cancel = (message: string) => {
    if (controller.signal.aborted) return;
    log(message);
    controller.abort(new RegentError("CANCELLED", message));
  };
  let timer: NodeJS.Timeout | undefined;
  const beat = async () => {
    let next = FIRST_INTERVAL_MS;
    try {
      const { flow_run_heartbeat: answer } = await client.request(Heartbeat, {
        id: run.id,
        execution: run.execution,
      });
      next = answer.interval_ms;
      if (answer.superseded)
        cancel(
          "the server started this run again without this execution (its heartbeats were missed); stopping",
        );
      else if (answer.state === "Cancelling" || answer.state === "Cancelled") cancel("cancelled by a user");
    } catch (error) {
      log(`warning: heartbeat failed: ${(error as Error).message}`);
    }
    if (closing.signal.aborted) return;
    timer = setTimeout(() => void beat(), next);
    timer.unref();
  };
  void beat();
  void (async () => {
    try {
      for await (const { flow_run_states: s } of client.subscribe(
        RunStates,
        { id: run.id },
        { signal: closing.signal },
      )) {
        if (s.kind === "flow_run_state" && (s.state === "Cancelling" || s.state === "Cancelled"))
          cancel("cancelled by a user");
      }
    } catch {
      // No subscription (a proxy without WebSockets): the heartbeats' answers still carry Cancelling.
    }
  })();
  return {
    signal: controller.signal,
    stop() {
      closing.abort();
      clearTimeout(timer);
    },
  };
}
