import type { ServerLink } from "../flow-runs.js";
import type { ClusterWorkerLaunchers } from "../runners/cluster.js";
import type { EngineReporter } from "../types.js";
import type { TaskContextImpl, TaskDefinition } from "./engine.js";

/** Executes task functions for one flow run; the engine keeps states, retries and timeouts around it. */
export interface TaskRunnerInstance {
  /** How many task functions may run at once. */
  readonly concurrency: number;
  /**
   * Task runs' timeouts are kept where they execute, from when they start there (a cluster worker), not
   * by the engine from when they are handed over (which may be a wait in a queue).
   */
  readonly enforcesTimeouts?: boolean;
  /** Waits for a free slot; undefined when one was free at once (no promise on the fast path). */
  acquire(): Promise<void> | undefined;
  release(): void;
  run(def: TaskDefinition, input: unknown, ctx: TaskContextImpl): Promise<unknown> | unknown;
  close(): Promise<void>;
}

/** A kind of task runner, chosen per flow (`flow({ taskRunner })`); started once per flow run. */
export interface TaskRunner {
  readonly kind: string;
  start(env: TaskRunnerEnvironment): TaskRunnerInstance;
}

/** What a runner is started with for one flow run. */
export interface TaskRunnerEnvironment {
  readonly reporter: EngineReporter;
  /** The server the run reports to, when an executor runs it. */
  readonly server?: ServerLink | undefined;
  /** Starts cluster workers where the run's infrastructure says (executors give it). */
  readonly workers?: ClusterWorkerLaunchers | undefined;
}
