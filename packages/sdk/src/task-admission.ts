import { graphql, type RegentClient } from "@regent/client";
import type { RegentError } from "@regent/core";
import { abortableSleep } from "./internal/abortable-sleep.js";
import { untilServerAnswers } from "./internal/server-retry.js";

const TagLimits = graphql(`
  query TagLimits { concurrency_limit(where: { kind: { _eq: "tag" } }) { name } }
`);
const Acquire = graphql(`
  mutation AcquireTaskSlots($flowRunId: uuid!, $taskRunId: uuid!, $tags: [String!]!) {
    acquire_task_slots(input: { flow_run_id: $flowRunId, task_run_id: $taskRunId, tags: $tags }) { granted reason }
  }
`);
const Release = graphql(`
  mutation ReleaseTaskSlots($ids: [uuid!]!) { release_task_slots(input: { task_run_ids: $ids }) { success } }
`);

/** A task run as admission sees it. */
export interface TaskRunAtGate {
  readonly flowRunId: string;
  readonly taskRunId: string;
  readonly tags: readonly string[];
}

/**
 * Holds task runs back until the limits on their tags have room (the server's `tag` limits, across every
 * flow run and agent). The engine asks before each attempt and releases after it.
 */
export interface TaskAdmission {
  /**
   * Undefined when the run may start at once; otherwise resolves when it may, calling `onWait` with the
   * reason while it waits, and rejects when `signal` aborts.
   */
  admit(run: TaskRunAtGate, onWait: (reason: string) => void, signal: AbortSignal): Promise<void> | undefined;
  release(run: TaskRunAtGate): Promise<void> | undefined;
}

export interface ServerTaskAdmissionOptions {
  readonly client: RegentClient;
  /** Told when a release fails (the slot then frees when the flow run ends). */
  readonly onWarning?: (message: string) => void;
  /** Longest wait between asks while a slot is taken (default 2 s). */
  readonly maxPollMs?: number;
}

/**
 * Admission by the server's tag limits. The limited tags are read once, at the first tagged task run;
 * a task run with none of them starts without asking. One that has some asks `acquire_task_slots`, and
 * while refused asks again with backoff (250 ms doubling to `maxPollMs`).
 */
export function serverTaskAdmission(options: ServerTaskAdmissionOptions): TaskAdmission {
  const { client } = options;
  let limited: Promise<Set<string>> | undefined;
  const limitedTags = (tags: readonly string[]) => {
    limited ??= client.request(TagLimits, {}).then(
      (r) => new Set(r.concurrency_limit.map((l) => l.name)),
      (error: unknown) => {
        limited = undefined; // asked again next time
        throw error;
      },
    );
    return limited.then((set) => tags.filter((t) => set.has(t)));
  };
  /** Like the reporter, rides out a server that is away (unreachable, database down), with backoff. */
  const patiently = <T>(ask: () => Promise<T>, signal: AbortSignal): Promise<T> =>
    untilServerAnswers(ask, {
      signal,
      onRetry: (error, delay) =>
        options.onWarning?.(
          `asking for a concurrency slot failed (${(error as RegentError).code}: ${error.message}); retrying in ${delay} ms`,
        ),
    });
  const held = new Set<string>();
  return {
    admit(run, onWait, signal) {
      if (run.tags.length === 0) return undefined;
      return (async () => {
        const tags = await patiently(() => limitedTags(run.tags), signal);
        if (tags.length === 0) return;
        let delay = 250;
        let told: string | undefined;
        for (;;) {
          const { acquire_task_slots: answer } = await patiently(
            () => client.request(Acquire, { flowRunId: run.flowRunId, taskRunId: run.taskRunId, tags }),
            signal,
          );
          if (answer.granted) {
            held.add(run.taskRunId);
            return;
          }
          const reason = answer.reason ?? "waiting for a concurrency slot";
          if (reason !== told) onWait(reason);
          told = reason;
          await abortableSleep(delay * (0.75 + Math.random() / 2), signal);
          delay = Math.min(delay * 2, options.maxPollMs ?? 2_000);
        }
      })();
    },
    release(run) {
      if (!held.delete(run.taskRunId)) return undefined;
      return client.request(Release, { ids: [run.taskRunId] }).then(
        () => undefined,
        (error: Error) =>
          options.onWarning?.(`releasing the concurrency slot of a task run failed: ${error.message}`),
      );
    },
  };
}
