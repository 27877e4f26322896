import { Repeater, SlidingBuffer } from "@repeaterjs/repeater";

/** A state a run entered, as subscribers see it. */
export interface StateEvent {
  readonly kind: "flow_run_state" | "task_run_state";
  readonly flow_run_id: string;
  readonly task_run_id: string | null;
  readonly state: string;
  readonly message: string | null;
  readonly version: number;
  readonly timestamp: string;
}

export interface LogEvent {
  readonly id: string;
  readonly flow_run_id: string;
  readonly task_run_id: string | null;
  readonly level: string;
  readonly message: string;
  readonly timestamp: string;
}

/** A change of a run's task queue (cluster task runner): its workers and its flow's process wake. */
export interface TaskQueueEvent {
  /** `enqueued`: jobs were added (or given back by a worker); `done`: results were accepted. */
  readonly kind: "enqueued" | "done";
  /** Jobs added or given back, or results accepted. */
  readonly count: number;
}

/** A run an agent may now claim: the agent's labels decide whether it wakes. */
export interface ClaimableEvent {
  readonly flow_run_id: string;
  readonly labels: readonly string[];
}

interface Topics {
  "flow_run:state": [flowRunId: string, event: StateEvent];
  /** The flow run's own states only (not its task runs'): what an executor listens to. */
  "flow_run:flow_state": [flowRunId: string, event: StateEvent];
  "flow_run:log": [flowRunId: string, event: LogEvent];
  /** The run's task queue got jobs or results (committed). */
  "flow_run:task_queue": [flowRunId: string, event: TaskQueueEvent];
  claimable: [event: ClaimableEvent];
  /** A schedule was registered or turned on: the scheduler plans at once instead of at its next loop. */
  "schedules:changed": [];
}
type Topic = keyof Topics;
/** What a subscriber receives: the last element of the topic's arguments. */
type Payload<T extends Topic> = Topics[T] extends [...unknown[], infer P] ? P : undefined;
type IdArgs<T extends Topic> = Topics[T] extends [string, unknown] ? [id: string] : [];

/**
 * Events a subscriber may have waiting before the oldest are dropped. A run's batch may commit 10,000
 * task-run states at once; a slow subscriber (a browser tab, an SSE stream) then misses the oldest rather
 * than the server holding them all — or, as graphql-yoga's own pub/sub does past 1,024, throwing.
 */
export const SUBSCRIBER_BUFFER = 20_000;

/**
 * What the store publishes after its writes commit, for subscriptions (live UI, `--watch`, executors and
 * agents hearing of runs without polling). In-process; replicas will share it through PostgreSQL
 * LISTEN/NOTIFY. Publishing never blocks or throws: each subscriber has its own bounded buffer.
 */
export type ServerEvents = ReturnType<typeof createServerEvents>;

export function createServerEvents() {
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const keyOf = (topic: string, id: string | undefined) => (id === undefined ? topic : `${topic}:${id}`);
  return {
    publish<T extends Topic>(topic: T, ...args: Topics[T]): void {
      const id = args.length === 2 ? (args[0] as string) : undefined;
      const set = listeners.get(keyOf(topic, id));
      if (!set) return;
      const payload = args.at(-1);
      for (const push of set) push(payload);
    },
    subscribe<T extends Topic>(topic: T, ...idArgs: IdArgs<T>): Repeater<Payload<T>> {
      const key = keyOf(topic, idArgs[0]);
      return new Repeater<Payload<T>>(async (push, stop) => {
        const listener = (payload: unknown) => void push(payload as Payload<T>);
        const set = listeners.get(key) ?? new Set();
        listeners.set(key, set);
        set.add(listener);
        await stop;
        set.delete(listener);
        if (set.size === 0) listeners.delete(key);
      }, new SlidingBuffer(SUBSCRIBER_BUFFER));
    },
  };
}
