import { graphql, type RegentClient, type VariablesOf } from "@regent/client";
import { newId, type RegentError } from "@regent/core";
import { untilServerAnswers } from "./internal/server-retry.js";
import type { EngineEvent, EngineReporter, EngineState } from "./types.js";

const ReportBatch = graphql(`
  mutation ReportBatch(
    $taskRuns: [create_task_run_input!]!
    $execution: Int
    $taskStates: [set_task_run_state_input!]!
    $logs: [write_run_log_input!]!
    $flowStates: [set_flow_run_state_input!]!
  ) {
    create_task_runs(input: { task_runs: $taskRuns, restart_count: $execution }) { refused { run_id code message } }
    set_task_run_states(input: { states: $taskStates }) { refused { run_id code message } }
    write_run_logs(input: { logs: $logs }) { count }
    set_flow_run_states(input: { states: $flowStates }) { refused { run_id code message } }
  }
`);

type Vars = VariablesOf<typeof ReportBatch>;
type Item<K extends keyof Vars> = Vars[K] extends readonly (infer T)[] ? T : never;

export interface ServerReporterOptions {
  readonly client: RegentClient;
  /** The server-side flow run this process executes. */
  readonly flowRunId: string;
  /** Its state version as read when the run was loaded. */
  readonly flowRunVersion: number;
  /**
   * The execution this process runs (the run's restart count when loaded): once the server has started
   * the run again without it, the task runs it creates are refused.
   */
  readonly execution?: number;
  /** How long events gather before a batch goes out (default 20 ms). */
  readonly batchMs?: number;
  /** Events gathered that send a batch without waiting for `batchMs` (default 2,000). */
  readonly maxBatch?: number;
  /** Told of write failures the server refused (they are not retried) and of retries. */
  readonly onWarning?: (message: string) => void;
  /**
   * Task runs the server has already (an earlier execution of a restarted or resumed run), by id, with
   * their state versions: the engine takes them up instead of creating them.
   */
  readonly knownTaskRuns?: ReadonlyMap<string, number>;
}

/**
 * Reports a run's engine events to the server in batches — one HTTP request carries task-run creations,
 * task-run states, log lines and flow-run states, in that order — never one round trip per task. A task
 * run created in the batch under way carries the states it enters before the batch goes (a short task's
 * Running and Success), so the server writes it once, as they left it. Every
 * write has a client-generated id, so a batch retried after a lost answer is harmless; a batch the server
 * could not take (unreachable, database down) is retried with backoff, never dropped. `flush()` resolves
 * once everything recorded so far is on the server.
 */
export function serverReporter(options: ServerReporterOptions): EngineReporter & { flush(): Promise<void> } {
  const { client, flowRunId } = options;
  const batchMs = options.batchMs ?? 20;
  const maxBatch = options.maxBatch ?? 2000;
  const warn = options.onWarning ?? (() => {});
  let flowVersion = options.flowRunVersion;
  const taskVersions = new Map<string, number>();
  let queue: {
    taskRuns: Item<"taskRuns">[];
    taskStates: Item<"taskStates">[];
    logs: Item<"logs">[];
    flowStates: EngineState[];
  } = {
    taskRuns: [],
    taskStates: [],
    logs: [],
    flowStates: [],
  };
  /** Task runs created in `queue`, by id: their later states go with their creation. */
  let created = new Map<string, Item<"taskRuns">>();
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let idleWaiters: Array<() => void> = [];
  const iso = (ms: number) => new Date(ms).toISOString();
  // Fields without a value are left out: each one sent is one more value the server's GraphQL checks.
  const stateInput = (s: EngineState) => {
    const input: { type: EngineState["type"]; timestamp: string; message?: string; data?: object } = {
      type: s.type,
      timestamp: iso(s.timestamp),
    };
    if (s.message != null) input.message = s.message;
    if (s.error || s.data || s.resultRef || s.result)
      input.data = {
        ...s.data,
        ...(s.error ? { error: s.error } : {}),
        ...(s.resultRef ? { resultRef: s.resultRef } : {}),
        ...(s.result ? { result: s.result } : {}),
      };
    return input;
  };

  let soon: NodeJS.Immediate | undefined;
  const schedule = () => {
    if (size >= maxBatch) {
      // At the event loop's next turn, not at once: a burst the engine makes in one go (a map creating
      // its children, then running them) then goes out with each child's states on its creation.
      if (!soon)
        soon = setImmediate(() => {
          soon = undefined;
          void pump();
        });
    } else if (!timer && !inFlight) timer = setTimeout(() => void pump(), batchMs);
  };

  async function send(batch: typeof queue): Promise<void> {
    // Flow-run versions are assigned at send time, in order, so a retried batch keeps its numbers.
    const flowStates = batch.flowStates.map((s) => ({
      id: newId(),
      flow_run_id: flowRunId,
      version: flowVersion++,
      state: stateInput(s),
    }));
    const variables = {
      taskRuns: batch.taskRuns,
      taskStates: batch.taskStates,
      logs: batch.logs,
      flowStates,
      execution: options.execution ?? null,
    } as Vars;
    const result = await untilServerAnswers(() => client.request(ReportBatch, variables), {
      onRetry: (error, delay) =>
        warn(
          `reporting to the server failed (${(error as RegentError).code}: ${error.message}); retrying in ${delay} ms`,
        ),
    });
    for (const r of [
      ...result.create_task_runs.refused,
      ...result.set_task_run_states.refused,
      ...result.set_flow_run_states.refused,
    ]) {
      warn(`the server refused a state write of run ${r.run_id} (${r.code}): ${r.message}`);
    }
  }

  async function pump(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (inFlight) return inFlight;
    inFlight = (async () => {
      while (size > 0) {
        const batch = queue;
        queue = { taskRuns: [], taskStates: [], logs: [], flowStates: [] };
        created = new Map();
        size = 0;
        await send(batch);
      }
    })();
    try {
      await inFlight;
    } finally {
      inFlight = undefined;
      if (size === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      } else schedule();
    }
  }

  return {
    record(event: EngineEvent) {
      switch (event.type) {
        case "flow_run_created":
          return; // the server made the run; subflows report as task runs of it
        case "flow_run_state":
          if (event.flowRunId !== flowRunId) return;
          queue.flowStates.push(event.state);
          break;
        case "task_run_created": {
          const t = event.taskRun;
          const known = options.knownTaskRuns?.get(t.id);
          if (known !== undefined) {
            taskVersions.set(t.id, known);
            return;
          }
          taskVersions.set(t.id, 1);
          const item: Item<"taskRuns"> = {
            id: t.id,
            flow_run_id: flowRunId,
            task_key: t.taskKey,
            task_name: t.taskName,
            map_index: t.mapIndex,
            run_key: t.runKey,
          };
          if (t.parentTaskRunId) item.parent_task_run_id = t.parentTaskRunId;
          if (t.upstream.length > 0) item.upstream = [...t.upstream];
          if (t.tags.length > 0) item.tags = [...t.tags];
          queue.taskRuns.push(item);
          created.set(t.id, item);
          break;
        }
        case "task_run_state": {
          if (event.state.type === "Pending") return; // every task run is created Pending
          const version = taskVersions.get(event.taskRunId) ?? 1;
          taskVersions.set(event.taskRunId, version + 1);
          const creation = created.get(event.taskRunId);
          if (creation) {
            // Entered while its creation waits to go: versions 2, 3, … in the order they arrive.
            creation.states = [...(creation.states ?? []), stateInput(event.state)];
            break;
          }
          queue.taskStates.push({
            id: newId(),
            task_run_id: event.taskRunId,
            version,
            state: stateInput(event.state),
          });
          break;
        }
        case "log":
          queue.logs.push({
            id: newId(),
            flow_run_id: flowRunId,
            task_run_id: event.log.taskRunId ?? null,
            level: event.log.level,
            message: event.log.message,
            timestamp: iso(event.log.timestamp),
          });
          break;
      }
      size++;
      schedule();
    },
    flush() {
      if (size === 0 && !inFlight) return Promise.resolve();
      const done = new Promise<void>((resolve) => idleWaiters.push(resolve));
      void pump();
      return done;
    },
  };
}
