import type { Logger } from "./types.js";

/** Passed to every task function as its last argument. */
export interface TaskContext {
  readonly taskRunId: string;
  readonly flowRunId: string;
  readonly taskName: string;
  /** 1 on the first try, 2 on the first retry, … */
  readonly attempt: number;
  /** Position in a mapped task's list; -1 when the run is not a mapped child. */
  readonly mapIndex: number;
  readonly tags: readonly string[];
  /** Aborted when the task's timeout passes or the flow run is cancelled. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * A secret's value: `NAME` from the server's secret store (the environment variable NAME when the run
   * has no server), `env:NAME`, `ssm:/path` (AWS SSM) or `secretsmanager:id[#key]` (AWS Secrets Manager).
   * Once read, the value is masked (`***`) in the run's logs, state messages and errors.
   */
  secret(ref: string): Promise<string>;
}

/** Passed to the flow function as its second argument. */
export interface FlowContext {
  readonly flowRunId: string;
  readonly flowRunName: string;
  readonly flowName: string;
  /**
   * The time this run stands for: its schedule's fire time (for a backfill, the past time it fills in),
   * or the time it was asked to start. Locally, when the run started.
   */
  readonly scheduledStartTime: Date;
  /** Aborted when the flow run is cancelled. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * A secret's value: `NAME` from the server's secret store (the environment variable NAME when the run
   * has no server), `env:NAME`, `ssm:/path` (AWS SSM) or `secretsmanager:id[#key]` (AWS Secrets Manager).
   * Once read, the value is masked (`***`) in the run's logs, state messages and errors.
   */
  secret(ref: string): Promise<string>;
}
