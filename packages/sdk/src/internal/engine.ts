import {
  ERROR_CODES,
  errorCodeOf,
  evaluateTrigger,
  InvalidUsageError,
  isFailureLike,
  newId,
  RegentError,
  serializeError,
  TaskTimeoutError,
  type Trigger,
  TriggerFailedError,
} from "@regent/core";
import type { TaskContext } from "../context.js";
import type { ServerLink } from "../flow-runs.js";
import { failureOf, TaskFuture, Unmapped } from "../future.js";
import { callHooks, type StateHooks, type TaskHookContext } from "../hooks.js";
import type { ResultStorage } from "../results.js";
import { keptResult, type PriorTaskRun } from "../resume.js";
import { resolveSecret } from "../secrets.js";
import { RetryAfterError, SkipSignal } from "../signals.js";
import type { TaskAdmission } from "../task-admission.js";
import type { EngineReporter, EngineState, FlowRunInfo, KeptResult } from "../types.js";
import { runScope } from "./context.js";
import { RunLogger } from "./logger.js";
import type { TaskRunnerInstance } from "./runner.js";
import { TaskRunState } from "./task-run.js";

/** A task as the engine sees it: options already parsed into numbers. */
export interface TaskDefinition {
  readonly name: string;
  /** Unique within the flow module: the name, suffixed by definition order when several tasks share it. */
  readonly key: string;
  readonly moduleUrl: string | undefined;
  readonly ordinal: number;
  readonly fn: (input: never, ctx: TaskContext) => unknown;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryBackoff: number;
  readonly maxRetryDelayMs: number;
  readonly timeoutMs: number | undefined;
  readonly cacheKey: ((input: never, ctx: TaskContext) => string | undefined) | undefined;
  readonly cacheExpiryMs: number | undefined;
  readonly trigger: Trigger;
  readonly skipOnUpstreamSkip: boolean;
  readonly tags: readonly string[];
  readonly persistResult: boolean | undefined;
  /** onStateChange / onSuccess / onFailure, when the task has any. */
  readonly hooks?: StateHooks<TaskHookContext, unknown> | undefined;
  /** Runs in the flow's own thread even under a pool runner (subflows). */
  readonly inProcess?: boolean;
}

export class TaskContextImpl implements TaskContext {
  attempt = 0;
  /** Set per attempt when the task has a timeout. */
  controller: AbortController | undefined;
  private combined: AbortSignal | undefined;

  constructor(
    readonly engine: FlowRunEngine,
    readonly run: TaskRunState,
    readonly log: RunLogger,
  ) {}

  get taskRunId(): string {
    return this.run.info.id;
  }
  get flowRunId(): string {
    return this.run.info.flowRunId;
  }
  get taskName(): string {
    return this.run.info.taskName;
  }
  get mapIndex(): number {
    return this.run.info.mapIndex;
  }
  get tags(): readonly string[] {
    return this.run.info.tags;
  }
  secret(ref: string): Promise<string> {
    return resolveSecret(ref, this.engine.server);
  }
  get signal(): AbortSignal {
    if (!this.controller) return this.engine.signal;
    this.combined ??= AbortSignal.any([this.controller.signal, this.engine.signal]);
    return this.combined;
  }
  newAttempt(timeoutMs: number | undefined): void {
    this.attempt++;
    this.combined = undefined;
    this.controller = timeoutMs === undefined ? undefined : new AbortController();
  }
}

const EMPTY: readonly TaskRunState[] = Object.freeze([]);

/** How an engine takes up an earlier execution of its flow run (restart, resume). */
export interface EngineResume {
  /** The earlier execution's task runs, by run key. */
  readonly previous?: ReadonlyMap<string, PriorTaskRun> | undefined;
  /** Keep each result with its Success state (in the server's database) when no storage is set. */
  readonly keepResults?: boolean | undefined;
  /** Put before this engine's run keys: a subflow's task runs live in its parent's flow run. */
  readonly keyPrefix?: string | undefined;
}

/**
 * A task with no options of its own that runs in the flow's thread even under a pool runner: what
 * subflows and pause() gates stand as.
 */
export function builtInTask(name: string, key: string, fn: TaskDefinition["fn"]): TaskDefinition {
  return {
    name,
    key,
    moduleUrl: undefined,
    ordinal: 0,
    fn,
    retries: 0,
    retryDelayMs: 0,
    retryBackoff: 1,
    maxRetryDelayMs: 0,
    timeoutMs: undefined,
    cacheKey: undefined,
    cacheExpiryMs: undefined,
    trigger: "allSuccessful",
    skipOnUpstreamSkip: true,
    tags: [],
    // Not kept: a restarted subflow runs again (its own task runs are reused one by one); a gate's
    // result is the resume's input, which the server keeps.
    persistResult: false,
    inProcess: true,
  };
}

const gateDefinitions = new Map<string, TaskDefinition>();

/** The task a pause() gate stands as: never executed, only its states recorded. */
function gateDefinition(name: string): TaskDefinition {
  let def = gateDefinitions.get(name);
  if (!def) {
    def = builtInTask(name, `pause:${name}`, () => undefined);
    gateDefinitions.set(name, def);
  }
  return def;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** Futures passed as the input, as an element of an array input, or as a value of an object input. */
function collectUpstream(input: unknown): readonly TaskRunState[] {
  if (input === null || typeof input !== "object") return EMPTY;
  if (input instanceof TaskFuture) return [input.run];
  let found: TaskRunState[] | undefined;
  const values = Array.isArray(input) ? input : isPlainObject(input) ? Object.values(input) : EMPTY;
  for (const v of values) {
    if (!(v instanceof TaskFuture)) continue;
    found ??= [];
    found.push(v.run);
  }
  return found ?? EMPTY;
}

/** What a downstream task receives for an upstream run: its result, undefined if skipped, the error if failed. */
function downstreamValue(run: TaskRunState): unknown {
  if (isFailureLike(run.outcome)) return failureOf(run);
  if (run.outcome === "Skipped") return undefined;
  return run.value;
}

function resolveInput(input: unknown): unknown {
  if (input instanceof TaskFuture) return downstreamValue(input.run);
  if (Array.isArray(input)) return input.map((v) => (v instanceof TaskFuture ? downstreamValue(v.run) : v));
  if (isPlainObject(input)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) out[k] = v instanceof TaskFuture ? downstreamValue(v.run) : v;
    return out;
  }
  return input;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** Runs the task runs of one flow run: states, triggers, cache, retries, timeouts, mapping. */
export class FlowRunEngine {
  readonly taskRuns: TaskRunState[] = [];
  readonly logger: RunLogger;
  private active = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly info: FlowRunInfo,
    readonly reporter: EngineReporter,
    readonly runner: TaskRunnerInstance,
    readonly results: ResultStorage | undefined,
    readonly cache: ResultStorage,
    readonly signal: AbortSignal,
    /** Holds task runs back under the server's tag limits (none locally). */
    readonly admission?: TaskAdmission,
    readonly resume: EngineResume = {},
  ) {
    this.logger = new RunLogger(reporter, info.id);
  }

  /** Calls so far per task key (in this engine): the n in each run key `<task key>#<n>`. */
  private readonly calls = new Map<string, number>();
  /** pause() gates waiting to be resumed. */
  private gates = 0;
  private readonly gateRuns: TaskRunState[] = [];

  /** Task runs still going once the run's cancellation grace ran out: ended Cancelled, not waited for. */
  abandon(message: string): void {
    for (const run of this.taskRuns) {
      if (run.settled || this.gateRuns.includes(run)) continue;
      this.finish(run, "Cancelled", undefined, new RegentError("CANCELLED", message), { message });
    }
  }

  /** The flow run ended otherwise than Paused (failed, cancelled): its waiting gates end Cancelled. */
  endGates(message: string): void {
    for (const run of this.gateRuns)
      if (!run.settled) this.finish(run, "Cancelled", undefined, undefined, { message });
  }
  private suspendWaiters: Array<() => void> = [];
  /** What the flow run's Paused state says: the first gate's message and the earliest deadline. */
  pausedState: { message: string; resumeBy: number | undefined } | undefined;

  /** Resolves once nothing is left to run but pause() gates: the run can stop and wait to be resumed. */
  suspended(): Promise<void> {
    return new Promise((resolve) => {
      this.suspendWaiters.push(resolve);
      this.checkSuspended();
    });
  }

  private checkSuspended(): void {
    if (this.gates === 0 || this.active !== this.gates) return;
    const waiters = this.suspendWaiters;
    this.suspendWaiters = [];
    for (const w of waiters) w();
  }

  /** `pause()`: a gate task run, Paused until resumed; reused (with the resume's input) once it was. */
  pause(name: string, message: string | undefined, timeoutMs: number | undefined): Promise<unknown> {
    const def = gateDefinition(name);
    const run = this.createTaskRun(def, EMPTY, -1, undefined);
    const prior = this.reusable(run);
    if (prior) {
      void this.reuse(run, prior);
      return run.whenSettled().then(() => run.value);
    }
    const shown = message ?? `waiting to be resumed (${name})`;
    const resumeBy = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    this.record(run, "Paused", {
      message: shown,
      ...(resumeBy === undefined ? {} : { data: { resumeBy: new Date(resumeBy).toISOString() } }),
    });
    const paused = this.pausedState;
    this.pausedState = {
      message: paused?.message ?? shown,
      resumeBy:
        paused?.resumeBy === undefined ? resumeBy : Math.min(paused.resumeBy, resumeBy ?? paused.resumeBy),
    };
    this.gates++;
    this.gateRuns.push(run);
    this.checkSuspended();
    // Settles only in a later execution, once resumed: this one stops at the pause.
    return new Promise(() => {});
  }

  /** Resolves once every task run made so far (and any they make) is settled. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  call(def: TaskDefinition, input: unknown): TaskRunState {
    const upstream = collectUpstream(input);
    for (const u of upstream) u.consumed = true;
    const run = this.createTaskRun(def, upstream, -1, undefined);
    void this.execute(run, def, input, upstream);
    return run;
  }

  map(def: TaskDefinition, mapInput: unknown): TaskRunState {
    let listLevel: TaskRunState[] = [];
    if (mapInput instanceof TaskFuture) listLevel = [mapInput.run];
    else if (isPlainObject(mapInput)) {
      for (const v of Object.values(mapInput)) {
        if (v instanceof TaskFuture) listLevel.push(v.run);
        else if (v instanceof Unmapped && v.value instanceof TaskFuture) listLevel.push(v.value.run);
      }
    } else if (!Array.isArray(mapInput)) {
      throw new InvalidUsageError(
        `${def.name}.map() takes a list, a future of a list, or an object whose values are lists or unmapped(value); got ${typeof mapInput}`,
      );
    }
    for (const u of listLevel) u.consumed = true;
    const parent = this.createTaskRun(def, listLevel, -1, undefined);
    parent.children = [];
    void this.expandMap(parent, def, mapInput, listLevel);
    return parent;
  }

  private createTaskRun(
    def: TaskDefinition,
    upstream: readonly TaskRunState[],
    mapIndex: number,
    parent: TaskRunState | undefined,
  ): TaskRunState {
    let runKey: string;
    if (parent) runKey = `${parent.info.runKey}[${mapIndex}]`;
    else {
      const n = (this.calls.get(def.key) ?? 0) + 1;
      this.calls.set(def.key, n);
      runKey = `${this.resume.keyPrefix ?? ""}${def.key}#${n}`;
    }
    const prior = this.resume.previous?.get(runKey);
    const info = {
      id: prior?.id ?? newId(),
      flowRunId: this.info.id,
      taskName: def.name,
      taskKey: def.key,
      mapIndex,
      parentTaskRunId: parent?.info.id,
      upstream: upstream.length === 0 ? (EMPTY as never[]) : upstream.map((u) => u.info.id),
      tags: def.tags,
      runKey,
    };
    const run = new TaskRunState(info, parent, def.hooks);
    this.taskRuns.push(run);
    this.active++;
    this.reporter.record({ type: "task_run_created", taskRun: info });
    if (prior) run.prior = prior;
    else this.record(run, "Pending");
    return run;
  }

  private record(
    run: TaskRunState,
    type: EngineState["type"],
    extra?: Omit<EngineState, "type" | "timestamp">,
  ): void {
    const state: EngineState = extra
      ? { type, timestamp: Date.now(), ...extra }
      : { type, timestamp: Date.now() };
    run.state = state;
    run.states.push(state);
    this.reporter.record({ type: "task_run_state", flowRunId: this.info.id, taskRunId: run.info.id, state });
    if (run.hooks) this.callTaskHooks(run, run.hooks, state);
  }

  private readonly pendingHooks = new Set<Promise<void>>();

  /** The server this run reports to, when an executor runs it (flows of flows start runs through it). */
  server: ServerLink | undefined;
  /** Flow runs this run has started so far: the n-th one's idempotency key, so a rerun starts no twin. */
  childRuns = 0;

  /** Runs a task run's hooks for a state; the flow run waits for them before it ends. */
  private callTaskHooks(run: TaskRunState, hooks: StateHooks<TaskHookContext, unknown>, state: EngineState) {
    const log = new RunLogger(this.reporter, this.info.id, run.info.id);
    const ctx: TaskHookContext = {
      taskRunId: run.info.id,
      flowRunId: this.info.id,
      taskName: run.info.taskName,
      mapIndex: run.info.mapIndex,
      tags: run.info.tags,
      log,
    };
    // The outcome is read when the hook runs: the final state is recorded just before the run settles.
    const pending = callHooks(
      hooks,
      state,
      ctx,
      () => ({ result: run.value, error: run.error }),
      log,
      `task run ${run.label}`,
    );
    if (!pending) return;
    this.pendingHooks.add(pending);
    void pending.finally(() => this.pendingHooks.delete(pending));
  }

  /** Resolves once every task-run hook called so far has finished. */
  async hooksDone(): Promise<void> {
    while (this.pendingHooks.size > 0) await Promise.all([...this.pendingHooks]);
  }

  private settle(run: TaskRunState, outcome: EngineState["type"], value: unknown, error: unknown): void {
    if (run.settled) return; // abandoned already (see abandon)
    run.settle(outcome, value, error);
    if (--this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    this.checkSuspended();
  }

  /**
   * Whether a task run of the earlier execution stands as it ended (succeeded with a kept result, was
   * Skipped); its server state is final, so it is reused, not run again. The server sent every other one
   * back to Pending.
   */
  private reusable(run: TaskRunState): PriorTaskRun | undefined {
    const prior = run.prior;
    if (!prior) return undefined;
    if (prior.state === "Skipped") return prior;
    if (prior.state === "Success" && (prior.result || prior.resultRef)) return prior;
    return undefined;
  }

  /** Ends a task run as its earlier execution did, with its kept result; nothing is written again. */
  private reuse(run: TaskRunState, prior: PriorTaskRun): void | Promise<void> {
    const reused: EngineState = { type: prior.state, timestamp: Date.now(), message: "reused" };
    run.state = reused;
    run.states.push(reused);
    if (prior.state !== "Success") return this.settle(run, prior.state, undefined, undefined);
    if (prior.result) return this.settle(run, "Success", prior.result.value, undefined);
    const ref = prior.resultRef!;
    const storage = this.results;
    return (async () => {
      try {
        if (!storage) throw new Error("the flow has no result storage configured to read it with");
        this.settle(run, "Success", await storage.read(ref), undefined);
      } catch (cause) {
        // Its server state stays Success: the failure is this execution's, and fails the flow run.
        const error = new RegentError(
          "RESULT_NOT_FOUND",
          `the kept result of task run ${run.info.runKey} could not be read from ${ref} (${(cause as Error).message}); a restarted or resumed run needs a result storage every executor can read`,
          { cause },
        );
        run.state = { type: "Failed", timestamp: Date.now(), message: error.message };
        this.settle(run, "Failed", undefined, error);
      }
    })();
  }

  /** Records a final state and settles the run with it. */
  private finish(
    run: TaskRunState,
    type: EngineState["type"],
    value: unknown,
    error: unknown,
    extra?: Omit<EngineState, "type" | "timestamp">,
  ): void {
    this.record(run, type, extra);
    this.settle(run, type, value, error);
  }

  private fail(run: TaskRunState, type: "Failed" | "TimedOut" | "TriggerFailed", error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.finish(run, type, undefined, error, { message, error: serializeError(error) });
  }

  private cancel(run: TaskRunState, error?: unknown): void {
    this.finish(run, "Cancelled", undefined, error, { message: "the flow run was cancelled" });
  }

  /** Waits for upstream runs; returns false when the run was settled here (skipped, trigger failed, cancelled). */
  private async passTrigger(run: TaskRunState, def: TaskDefinition, upstream: readonly TaskRunState[]) {
    for (const u of upstream) if (!u.settled) await u.whenSettled();
    // Upstream runs cut short by a cancellation must not make this one TriggerFailed.
    if (this.signal.aborted) {
      this.cancel(run);
      return false;
    }
    const decision = evaluateTrigger(
      def.trigger,
      upstream.map((u) => u.outcome),
      def.skipOnUpstreamSkip,
    );
    if (decision === "run") return true;
    if (decision === "skip")
      this.finish(run, "Skipped", undefined, undefined, { message: "an upstream task run was skipped" });
    else {
      const states = upstream.map((u) => `${u.label}: ${u.outcome}`);
      this.fail(run, "TriggerFailed", new TriggerFailedError(run.label, def.trigger, states));
    }
    return false;
  }

  private async execute(
    run: TaskRunState,
    def: TaskDefinition,
    rawInput: unknown,
    upstream: readonly TaskRunState[],
  ): Promise<void> {
    try {
      const prior = this.reusable(run);
      if (prior) return await this.reuse(run, prior);
      if (upstream.length > 0 && !(await this.passTrigger(run, def, upstream))) return;
      if (this.signal.aborted) {
        this.cancel(run);
        return;
      }
      const input = upstream.length > 0 ? resolveInput(rawInput) : rawInput;
      const ctx = new TaskContextImpl(this, run, new RunLogger(this.reporter, this.info.id, run.info.id));

      let cacheId: string | undefined;
      if (def.cacheKey) {
        const key = def.cacheKey(input as never, ctx);
        if (key !== undefined) {
          cacheId = `${def.key}:${key}`;
          const hit = await this.cache.cacheGet(cacheId);
          if (hit && (hit.expiresAt == null || hit.expiresAt > Date.now())) {
            this.finish(run, "Cached", hit.value, undefined, { message: `cache hit for key ${key}` });
            return;
          }
        }
      }
      await this.attempts(run, def, input, ctx, cacheId);
    } catch (error) {
      // A fault of the engine itself (or of a cache key function): the run must still end.
      if (!run.settled) this.fail(run, "Failed", error);
    }
  }

  private async attempts(
    run: TaskRunState,
    def: TaskDefinition,
    input: unknown,
    ctx: TaskContextImpl,
    cacheId: string | undefined,
  ): Promise<void> {
    const useRunner = !def.inProcess;
    const gate = { flowRunId: this.info.id, taskRunId: run.info.id, tags: run.info.tags };
    for (;;) {
      const admitted = this.admission?.admit(
        gate,
        // Queued (with the limit it waits on) before its first attempt; a retry waits in Retrying.
        (reason) => {
          if (ctx.attempt === 0) this.record(run, "Queued", { message: reason });
        },
        this.signal,
      );
      if (admitted) {
        try {
          await admitted;
        } catch (error) {
          if (this.signal.aborted) this.cancel(run);
          else this.fail(run, "Failed", error);
          return;
        }
      }
      if (useRunner) {
        const wait = this.runner.acquire();
        if (wait) await wait;
      }
      if (this.signal.aborted) {
        if (useRunner) this.runner.release();
        await this.admission?.release(gate);
        this.cancel(run);
        return;
      }
      let value: unknown;
      let error: unknown;
      let threw = false;
      ctx.newAttempt(def.timeoutMs);
      run.attempt = ctx.attempt;
      this.record(run, "Running", ctx.attempt > 1 ? { data: { attempt: ctx.attempt } } : undefined);
      try {
        value = await this.attempt(def, input, ctx, useRunner);
      } catch (e) {
        threw = true;
        error = e;
      } finally {
        if (useRunner) this.runner.release();
      }
      // A limit's slot is freed once the attempt's outcome is recorded, so no other task run of the tag
      // is seen Running before this one's end.
      let retryIn: number | undefined;
      try {
        retryIn = await this.settleAttempt(run, def, ctx, cacheId, threw ? { error } : { value });
      } finally {
        const released = this.admission?.release(gate);
        if (released) await released;
      }
      if (retryIn === undefined) return;
      if (retryIn > 0) await sleep(retryIn, this.signal);
    }
  }

  /** Records how an attempt ended; returns the delay before the next attempt, or undefined when done. */
  private async settleAttempt(
    run: TaskRunState,
    def: TaskDefinition,
    ctx: TaskContextImpl,
    cacheId: string | undefined,
    outcome: { value: unknown } | { error: unknown },
  ): Promise<number | undefined> {
    if ("value" in outcome) {
      const { value } = outcome;
      let resultRef: string | undefined;
      let result: KeptResult | undefined;
      if (def.persistResult !== false) {
        if (this.results) resultRef = await this.results.write(this.info.id, run.info.id, value);
        else if (this.resume.keepResults) result = keptResult(value);
      }
      if (cacheId !== undefined) {
        const expiresAt = def.cacheExpiryMs === undefined ? undefined : Date.now() + def.cacheExpiryMs;
        await this.cache.cacheSet(cacheId, { value, expiresAt });
      }
      this.finish(
        run,
        "Success",
        value,
        undefined,
        resultRef ? { resultRef } : result ? { result } : undefined,
      );
      return undefined;
    }
    const { error } = outcome;
    if (error instanceof SkipSignal) {
      this.finish(run, "Skipped", undefined, undefined, { message: error.message });
      return undefined;
    }
    // An attempt that ends in an error once the flow run is cancelled (typically because it honoured
    // ctx.signal) is Cancelled like the rest of the run, not Failed.
    if (this.signal.aborted) {
      this.cancel(run, error);
      return undefined;
    }
    const code = errorCodeOf(error);
    if (ctx.attempt <= def.retries && ERROR_CODES[code].retriable) {
      const delay =
        error instanceof RetryAfterError
          ? error.delayMs
          : Math.min(def.retryDelayMs * def.retryBackoff ** (ctx.attempt - 1), def.maxRetryDelayMs);
      const message = error instanceof Error ? error.message : String(error);
      this.record(run, "Retrying", {
        message: `attempt ${ctx.attempt} of ${def.retries + 1} failed: ${message}; retrying in ${delay} ms`,
        data: { startTime: Date.now() + delay, attempt: ctx.attempt },
        error: serializeError(error),
      });
      return delay;
    }
    this.fail(run, error instanceof TaskTimeoutError ? "TimedOut" : "Failed", error);
    return undefined;
  }

  private attempt(
    def: TaskDefinition,
    input: unknown,
    ctx: TaskContextImpl,
    useRunner: boolean,
  ): Promise<unknown> | unknown {
    const call = () =>
      useRunner
        ? this.runner.run(def, input, ctx)
        : runScope.run({ engine: this, logger: ctx.log }, def.fn, input as never, ctx);
    const timeoutMs = def.timeoutMs;
    if (timeoutMs === undefined || (useRunner && this.runner.enforcesTimeouts)) return call();
    const controller = ctx.controller!;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TaskTimeoutError(def.name, timeoutMs);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    return Promise.race([Promise.resolve().then(call), timeout]).finally(() => clearTimeout(timer));
  }

  private async expandMap(
    parent: TaskRunState,
    def: TaskDefinition,
    mapInput: unknown,
    listLevel: readonly TaskRunState[],
  ): Promise<void> {
    try {
      if (parent.prior?.state === "Skipped") {
        this.reuse(parent, parent.prior);
        return;
      }
      for (const u of listLevel) if (!u.settled) await u.whenSettled();
      if (this.signal.aborted) {
        this.cancel(parent);
        return;
      }
      const skipped = listLevel.find((u) => u.outcome === "Skipped");
      const failed = listLevel.find((u) => u.failed);
      if (failed) {
        const states = listLevel.map((u) => `${u.label}: ${u.outcome}`);
        this.fail(
          parent,
          "TriggerFailed",
          new TriggerFailedError(parent.label, "a mapped list from an upstream", states),
        );
        return;
      }
      if (skipped) {
        this.finish(parent, "Skipped", [], undefined, { message: "the mapped list's task run was skipped" });
        return;
      }
      const items = this.mapItems(def, mapInput);
      // A parent that reached Mapped in the earlier execution stays so; its children are judged one by one.
      const wasMapped = parent.prior?.state === "Mapped";
      if (!wasMapped) this.record(parent, "Running");
      const children = parent.children!;
      const upstreams: (readonly TaskRunState[])[] = new Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const upstream = collectUpstream(items[i]);
        for (const u of upstream) u.consumed = true;
        upstreams[i] = upstream;
        children.push(
          this.createTaskRun(def, listLevel.length > 0 ? [...listLevel, ...upstream] : upstream, i, parent),
        );
      }
      if (!wasMapped) this.record(parent, "Mapped", { message: `${items.length} mapped task runs` });
      // Children start through as many lanes as the runner has slots, not all at once: 100,000 suspended
      // executions waiting for a slot would cost memory and garbage-collector time for nothing.
      let next = 0;
      const lane = async () => {
        while (next < children.length) {
          const i = next++;
          await this.execute(children[i]!, def, items[i], upstreams[i]!);
        }
      };
      const lanes = Math.min(children.length, Math.max(1, this.runner.concurrency));
      for (let l = 0; l < lanes; l++) void lane();
      let remaining = children.length;
      const done = () => {
        const firstFailed = children.find((c) => c.failed);
        const values = children.map((c) => c.value);
        if (!firstFailed) return this.settle(parent, "Mapped", values, undefined);
        const count = children.filter((c) => c.failed).length;
        const error = new RegentError(
          "TASK_FAILED",
          `${count} of ${children.length} mapped runs of ${def.key} failed; first: ${firstFailed.label}: ${String((failureOf(firstFailed) as Error)?.message ?? firstFailed.outcome)}`,
          { cause: failureOf(firstFailed) },
        );
        this.settle(parent, "Failed", values, error);
      };
      if (remaining === 0) done();
      for (const child of children) {
        child.onSettled(() => {
          if (--remaining === 0) done();
        });
      }
    } catch (error) {
      if (!parent.settled) this.fail(parent, "Failed", error);
    }
  }

  /** The inputs of a mapped task's children: one per list item, zipped across lists in the object form. */
  private mapItems(def: TaskDefinition, mapInput: unknown): unknown[] {
    const resolved = mapInput instanceof TaskFuture ? mapInput.run.value : mapInput;
    if (Array.isArray(resolved)) return resolved;
    if (!isPlainObject(resolved)) {
      throw new InvalidUsageError(
        `${def.name}.map() needs a list; the upstream task returned ${typeof resolved}`,
      );
    }
    const constants: Record<string, unknown> = {};
    const lists: Array<[string, unknown[]]> = [];
    for (const [key, v] of Object.entries(resolved)) {
      if (v instanceof Unmapped) constants[key] = v.value instanceof TaskFuture ? v.value.run.value : v.value;
      else {
        const list = v instanceof TaskFuture ? v.run.value : v;
        if (!Array.isArray(list)) {
          throw new InvalidUsageError(
            `${def.name}.map(): "${key}" must be a list, or wrapped in unmapped() to pass it whole to every run (got ${typeof list})`,
          );
        }
        lists.push([key, list]);
      }
    }
    if (lists.length === 0) throw new InvalidUsageError(`${def.name}.map() was given no list to map over`);
    const n = lists[0]![1].length;
    const uneven = lists.find(([, l]) => l.length !== n);
    if (uneven) {
      throw new InvalidUsageError(
        `${def.name}.map(): lists differ in length (${lists.map(([k, l]) => `${k}: ${l.length}`).join(", ")})`,
      );
    }
    const items: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const item: Record<string, unknown> = { ...constants };
      for (const [key, list] of lists) item[key] = list[i];
      items[i] = item;
    }
    return items;
  }

  /** Task runs that failed and whose failure nobody awaited or passed on: they fail the flow run. */
  unhandledFailures(): TaskRunState[] {
    // A parent that reached Mapped stands for its children, which are counted one by one.
    const standsForChildren = (r: TaskRunState) => r.children !== undefined && r.state?.type === "Mapped";
    return this.taskRuns.filter(
      (r) => r.failed && !standsForChildren(r) && !r.consumed && !r.parent?.consumed,
    );
  }
}
