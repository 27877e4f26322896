import { isFailureLike, isFinal, type RunStateType } from "@regent/core";
import type { StateHooks, TaskHookContext } from "../hooks.js";
import type { PriorTaskRun } from "../resume.js";
import type { EngineState, TaskRunInfo } from "../types.js";

/**
 * One task run inside the engine. `state` is the recorded state; `outcome` is what consumers see: for a
 * mapped parent it is decided only once all its children are final (Failed if any child failed).
 */
export class TaskRunState {
  readonly states: EngineState[] = [];
  state: EngineState | undefined;
  attempt = 0;
  /** The result (or, for a mapped parent, the children's results in order). */
  value: unknown = undefined;
  /** The error that ended the run, for failure-like outcomes. */
  error: unknown = undefined;
  outcome: RunStateType = "Pending";
  settled = false;
  /** Awaited by the flow, or passed downstream: its failure is then someone's to handle. */
  consumed = false;
  children: TaskRunState[] | undefined;
  /** The same task run in the earlier execution of a restarted or resumed flow run. */
  prior: PriorTaskRun | undefined;
  private waiters: Array<() => void> | undefined;

  constructor(
    readonly info: TaskRunInfo,
    readonly parent: TaskRunState | undefined,
    /** The task's state hooks, when it has any. */
    readonly hooks?: StateHooks<TaskHookContext, unknown> | undefined,
  ) {}

  get label(): string {
    return this.info.mapIndex >= 0 ? `${this.info.taskKey}[${this.info.mapIndex}]` : this.info.taskKey;
  }

  get failed(): boolean {
    return isFailureLike(this.outcome);
  }

  /** Marks the outcome final and wakes everyone waiting on it. */
  settle(outcome: RunStateType, value: unknown, error: unknown): void {
    if (this.settled) return;
    if (!isFinal(outcome)) throw new Error(`internal: task run settled in non-final state ${outcome}`);
    this.outcome = outcome;
    this.value = value;
    this.error = error;
    this.settled = true;
    const waiters = this.waiters;
    this.waiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  onSettled(callback: () => void): void {
    if (this.settled) {
      callback();
      return;
    }
    this.waiters ??= [];
    this.waiters.push(callback);
  }

  whenSettled(): Promise<void> {
    return this.settled ? Promise.resolve() : new Promise((resolve) => this.onSettled(resolve));
  }
}
