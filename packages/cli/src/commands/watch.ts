import { graphql, type RegentClient } from "@regent/client";
import { isFinal, type RunStateType } from "@regent/core";
import { EXIT } from "../exit.js";
import { STATE_STYLE, stylerFor } from "../style.js";

const RunState = graphql(`
  query RunState($id: uuid!) { flow_run_by_pk(id: $id) { state state_message } }
`);
const States = graphql(`
  subscription States($id: uuid!) { flow_run_states(flow_run_id: $id) { kind state message task_run_id } }
`);
const Logs = graphql(`
  subscription Logs($id: uuid!) { flow_run_logs(flow_run_id: $id) { level message timestamp } }
`);

/** Where watching a run stops: a final state, or Paused (it waits for a person). */
const ends = (state: string) => isFinal(state as RunStateType) || state === "Paused";

/**
 * Follows a server-side flow run's states and logs until it ends or pauses; returns the exit status:
 * 0 Success, 3 Paused (waiting to be resumed), 1 otherwise.
 */
export async function watchFlowRun(client: RegentClient, id: string, name: string): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const paint = stylerFor(process.stdout);
  const stop = new AbortController();
  let final: { state: string; message: string | null } | undefined;
  const finish = (state: string, message: string | null) => {
    if (final) return;
    final = { state, message };
    // Log lines written just before the final state may still be on their way.
    setTimeout(() => stop.abort(), 300).unref();
  };
  const logs = (async () => {
    for await (const { flow_run_logs: l } of client.subscribe(Logs, { id }, { signal: stop.signal })) {
      out(`${l.timestamp.slice(11, 23)} ${l.level.toUpperCase().padEnd(5)} ${l.message}`);
    }
  })();
  const states = (async () => {
    for await (const { flow_run_states: s } of client.subscribe(States, { id }, { signal: stop.signal })) {
      if (s.kind !== "flow_run_state") continue;
      out(
        `${paint("gray", "state")} ${paint(STATE_STYLE[s.state] ?? "white", s.state)}${s.message ? `: ${s.message}` : ""}`,
      );
      if (ends(s.state)) finish(s.state, s.message);
    }
  })();
  // A run that ended before the subscriptions opened is caught here.
  await new Promise((r) => setTimeout(r, 200));
  const now = (await client.request(RunState, { id })).flow_run_by_pk;
  if (now && ends(now.state)) finish(now.state, now.state_message);
  await Promise.all([logs, states]);
  const state = final?.state ?? "unknown";
  const shown = paint(STATE_STYLE[state] ?? "white", state);
  if (state === "Paused") {
    out(`flow run ${name} is ${shown}; go on with: regent resume ${id}`);
    return EXIT.paused;
  }
  out(`flow run ${name} finished ${shown}`);
  return state === "Success" ? EXIT.ok : EXIT.failed;
}
