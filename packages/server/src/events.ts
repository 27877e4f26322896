import { createPubSub } from "graphql-yoga";

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

/** A run an agent may now claim: the agent's labels decide whether it wakes. */
export interface ClaimableEvent {
  readonly flow_run_id: string;
  readonly labels: readonly string[];
}

/**
 * What the store publishes after its writes commit, for subscriptions (live UI, `--watch`, agents waking
 * without polling). In-process; replicas will share it through PostgreSQL LISTEN/NOTIFY.
 */
export type ServerEvents = ReturnType<typeof createServerEvents>;

export const createServerEvents = () =>
  createPubSub<{
    "flow_run:state": [flowRunId: string, event: StateEvent];
    "flow_run:log": [flowRunId: string, event: LogEvent];
    claimable: [event: ClaimableEvent];
    /** A schedule was registered or turned on: the scheduler plans at once instead of at its next loop. */
    "schedules:changed": [];
  }>();
