import { graphql } from "@regent/client";
import { type Config, InvalidUsageError } from "@regent/core";
import { EXIT } from "../exit.js";
import { client, print } from "./remote.js";
import { watchFlowRun } from "./watch.js";

const Restart = graphql(`
  mutation Restart($id: uuid!) {
    restart_flow_run(input: { flow_run_id: $id }) { id state flow_run { name } }
  }
`);
const Resume = graphql(`
  mutation Resume($id: uuid!, $input: jsonb) {
    resume_flow_run(input: { flow_run_id: $id, input: $input }) { id state flow_run { name } }
  }
`);
const Cancel = graphql(`
  mutation Cancel($id: uuid!) { cancel_flow_run(input: { flow_run_id: $id }) { state flow_run { id name } } }
`);
const Reused = graphql(`
  query Reused($id: uuid!) {
    pending: task_run_aggregate(where: { flow_run_id: { _eq: $id }, state: { _eq: "Pending" } }) { aggregate { count } }
    all: task_run_aggregate(where: { flow_run_id: { _eq: $id } }) { aggregate { count } }
  }
`);

export interface RunControlOptions {
  readonly watch?: boolean;
  readonly json?: boolean;
}

/** `regent restart <flow-run-id>`: a Failed, Cancelled or TimedOut run goes again from its failed task runs. */
export async function restart(config: Config, id: string, options: RunControlOptions): Promise<number> {
  const api = client(config);
  const { restart_flow_run: run } = await api.request(Restart, { id });
  return reopened(config, run, "restarted", options);
}

/** `regent resume <flow-run-id> [--input JSON]`: a Paused run goes on; its pause() returns the input. */
export async function resume(
  config: Config,
  id: string,
  options: RunControlOptions & { input?: string },
): Promise<number> {
  let input: unknown = null;
  if (options.input !== undefined) {
    try {
      input = JSON.parse(options.input);
    } catch (error) {
      throw new InvalidUsageError(
        `--input must be JSON (quote strings: --input '"yes"'; objects: --input '{"approved": true}'): ${(error as Error).message}`,
      );
    }
  }
  const { resume_flow_run: run } = await client(config).request(Resume, { id, input });
  return reopened(config, run, "resumed", options);
}

/**
 * `regent cancel <flow-run-id>`: a run not started (or Paused) ends Cancelled at once; a running one goes
 * Cancelling, its executor stops its task runs, and it ends Cancelled.
 */
export async function cancel(config: Config, id: string, options: RunControlOptions): Promise<number> {
  const api = client(config);
  const { cancel_flow_run: run } = await api.request(Cancel, { id });
  const name = run.flow_run.name;
  print(
    options.json === true && !options.watch,
    { id, name, state: run.state },
    () =>
      `${run.state === "Cancelled" ? "cancelled" : "cancelling"} flow run ${name} (${id}): ${run.state}${options.watch && run.state !== "Cancelled" ? "; watching…" : ""}\n`,
  );
  if (!options.watch || run.state === "Cancelled") return EXIT.ok;
  const code = await watchFlowRun(api, id, name);
  return code === EXIT.failed ? EXIT.ok : code;
}

async function reopened(
  config: Config,
  run: { id: string; state: string; flow_run: { name: string } },
  what: string,
  options: RunControlOptions,
): Promise<number> {
  const api = client(config);
  const counts = await api.request(Reused, { id: run.id });
  const again = counts.pending.aggregate.count;
  const reused = counts.all.aggregate.count - again;
  const name = run.flow_run.name;
  print(
    options.json === true && !options.watch,
    { id: run.id, name, state: run.state, reused, again },
    () =>
      `${what} flow run ${name} (${run.id}): ${run.state}; ${reused} task run${reused === 1 ? "" : "s"} reused, ${again} to run again${options.watch ? "; watching…" : `; follow it with: regent get logs --flow-run-id ${run.id}`}\n`,
  );
  if (!options.watch) return EXIT.ok;
  return watchFlowRun(api, run.id, name);
}
