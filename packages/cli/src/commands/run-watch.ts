import { graphql, type RegentClient } from "@regent/client";
import { isFinal, RegentError, type RunStateType } from "@regent/core";

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
 * How long a final state may stand before this executor takes it for someone else's: its own final
 * write is followed at once by the end of its run (and of this watch).
 */
const ENDED_ELSEWHERE_MS = 1_000;

/**
 * What an executor keeps up while it runs a flow run: heartbeats (Lazarus judges the run by them), and
 * an ear for the run being cancelled — a subscription to its states for a prompt stop, the heartbeat's
 * answer as the fallback. `signal` aborts when the run is Cancelling, when it was ended by someone else
 * (a user marked it Failed or Success), or when the server has started it again without this execution
 * (Lazarus took it for lost): then this executor must stop its task runs and writing.
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
  let ended: NodeJS.Timeout | undefined;
  const seen = (state: string) => {
    if (state === "Cancelling" || state === "Cancelled") cancel("cancelled by a user");
    else if (isFinal(state as RunStateType) && !ended) {
      ended = setTimeout(() => {
        if (!closing.signal.aborted) cancel(`the run was marked ${state}; stopping its task runs`);
      }, ENDED_ELSEWHERE_MS);
      ended.unref();
    }
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
      else seen(answer.state);
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
        if (s.kind === "flow_run_state") seen(s.state);
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
      clearTimeout(ended);
    },
  };
}
