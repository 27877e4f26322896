// A cluster worker's heartbeat, in a thread of its own: a task run that holds the worker's main thread
// (CPU-bound work, minutes of it) must not make the worker look dead and its task runs go to another.
import { parentPort, workerData } from "node:worker_threads";
import { graphql, RegentClient } from "@regent/client";

const WorkerHeartbeat = graphql(`
  mutation WorkerHeartbeat($flowRunId: uuid!, $workerId: String!, $jobIds: [uuid!]) {
    task_worker_heartbeat(input: { flow_run_id: $flowRunId, worker_id: $workerId, job_ids: $jobIds }) { jobs stop }
  }
`);

export interface HeartbeatSettings {
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly flowRunId: string;
  readonly workerId: string;
  readonly everyMs: number;
}

/**
 * From the worker's main thread, once per request (not per task run): jobs it claimed (it holds them until
 * it sends their results or gives them back), jobs it let go.
 */
export type ToHeartbeat =
  | { readonly type: "hold"; readonly ids: readonly string[] }
  | { readonly type: "drop"; readonly ids: readonly string[] };
/** To it: the run is over (the worker should end), or a heartbeat failed. */
export type FromHeartbeat =
  | { readonly type: "run-over" }
  | { readonly type: "failed"; readonly message: string };

const port = parentPort;
if (!port) throw new Error("heartbeat-thread.js runs only as a worker thread");
const settings = workerData as HeartbeatSettings;
const client = new RegentClient({ apiUrl: settings.apiUrl, apiKey: settings.apiKey });
const post = (message: FromHeartbeat) => port.postMessage(message);
const held = new Set<string>();

async function beat(): Promise<void> {
  try {
    const { task_worker_heartbeat } = await client.request(WorkerHeartbeat, {
      flowRunId: settings.flowRunId,
      workerId: settings.workerId,
      jobIds: [...held],
    });
    if (task_worker_heartbeat.stop) post({ type: "run-over" });
  } catch (error) {
    post({ type: "failed", message: (error as Error).message });
  }
  setTimeout(beat, settings.everyMs);
}

port.on("message", (message: ToHeartbeat) => {
  if (message.type === "hold") for (const id of message.ids) held.add(id);
  else for (const id of message.ids) held.delete(id);
});
setTimeout(beat, settings.everyMs);
