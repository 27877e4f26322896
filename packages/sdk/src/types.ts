import type { RunStateType, SerializedError } from "@regent/core";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** A state as the engine records it; `timestamp` is epoch milliseconds. */
export interface EngineState {
  readonly type: RunStateType;
  readonly timestamp: number;
  readonly message?: string | undefined;
  /** e.g. `startTime` (epoch ms) for Retrying, `attempt` for Running. */
  readonly data?: Readonly<Record<string, unknown>> | undefined;
  readonly error?: SerializedError | undefined;
  /** Where the result was persisted, when it was. */
  readonly resultRef?: string | undefined;
  /**
   * The result itself, kept with the state in the server's database (`{}` for a task that returned
   * nothing): what a restarted or resumed run reuses when no result storage is configured.
   */
  readonly result?: KeptResult | undefined;
}

/** A result as the server keeps it: JSON, wrapped so that "returned nothing" is kept too. */
export interface KeptResult {
  readonly value?: unknown;
}

export interface FlowRunInfo {
  readonly id: string;
  readonly name: string;
  readonly flowName: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Set for a subflow: the task run in the parent flow run that stands for it. */
  readonly parentTaskRunId?: string | undefined;
}

export interface TaskRunInfo {
  readonly id: string;
  readonly flowRunId: string;
  readonly taskName: string;
  /** Stable key of the task within its flow module: the name, suffixed when several tasks share it. */
  readonly taskKey: string;
  /** Position in a mapped task's list; -1 for a task run that is not a mapped child. */
  readonly mapIndex: number;
  /**
   * Its place in the flow run, the same in every execution of the same code: `<task key>#<n>` for the
   * n-th call of a task, `<parent's key>[i]` for a mapped child. A restarted or resumed run finds the task
   * runs of its earlier execution by it.
   */
  readonly runKey: string;
  /** For a mapped child: the parent (Mapped) task run. */
  readonly parentTaskRunId?: string | undefined;
  /** Task runs whose futures or results were passed into this one. */
  readonly upstream: readonly string[];
  readonly tags: readonly string[];
}

export interface LogRecord {
  readonly flowRunId: string;
  readonly taskRunId?: string | undefined;
  readonly level: LogLevel;
  readonly message: string;
  readonly timestamp: number;
}

/** Everything the engine reports. One stream, so a reporter can batch it however it likes. */
export type EngineEvent =
  | { readonly type: "flow_run_created"; readonly flowRun: FlowRunInfo }
  | { readonly type: "flow_run_state"; readonly flowRunId: string; readonly state: EngineState }
  | { readonly type: "task_run_created"; readonly taskRun: TaskRunInfo }
  | {
      readonly type: "task_run_state";
      readonly flowRunId: string;
      readonly taskRunId: string;
      readonly state: EngineState;
    }
  | { readonly type: "log"; readonly log: LogRecord };

/**
 * Receives engine events. `record` is called synchronously on the hot path and must not block: a
 * reporter that talks to a server buffers and sends in batches. `flush` is awaited at final states.
 */
export interface EngineReporter {
  record(event: EngineEvent): void;
  flush?(): Promise<void>;
}

export interface Logger {
  debug(message: unknown, ...args: unknown[]): void;
  info(message: unknown, ...args: unknown[]): void;
  warn(message: unknown, ...args: unknown[]): void;
  error(message: unknown, ...args: unknown[]): void;
}
