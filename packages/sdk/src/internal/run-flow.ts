import {
  CancelledError,
  type Duration,
  type JsonSchema,
  newId,
  type ParamsSchema,
  parseDuration,
  RegentError,
  serializeError,
  validateParams,
} from "@regent/core";
import type { FlowContext } from "../context.js";
import { resultData, type ServerLink } from "../flow-runs.js";
import { callHooks, hasHooks, type StateHooks } from "../hooks.js";
import { memoryResults, type ResultStorage } from "../results.js";
import type { PriorTaskRun } from "../resume.js";
import type { ClusterWorkerLaunchers } from "../runners/cluster.js";
import { concurrentTaskRunner } from "../runners/concurrent.js";
import { maskingReporter, resolveSecret } from "../secrets.js";
import type { TaskAdmission } from "../task-admission.js";
import type { EngineReporter, EngineState, FlowRunInfo, TaskRunInfo } from "../types.js";
import { captureConsole } from "./console-capture.js";
import { runScope } from "./context.js";
import { type EngineResume, FlowRunEngine } from "./engine.js";
import type { TaskRunner } from "./runner.js";

export interface RunFlowOptions {
  /** Receives every state change and log line (the CLI's display, a server reporter…). */
  reporter?: EngineReporter;
  /**
   * Aborting it cancels the run: queued task runs end Cancelled; running ones see `ctx.signal`, and end
   * Cancelled too if they then throw.
   */
  signal?: AbortSignal;
  flowRunId?: string;
  flowRunName?: string;
  /** The time the run was scheduled for (a schedule's fire time, a backfill's); default: when it starts. */
  scheduledStartTime?: Date;
  /** The server the run reports to (executors set it): flows of flows start runs through it. */
  server?: ServerLink;
  /** Holds task runs back under the server's tag limits (executors set it; none locally). */
  admission?: TaskAdmission;
  /** Starts the workers of `clusterTaskRunner` (executors set it; without it the runner uses threads). */
  workers?: ClusterWorkerLaunchers;
  /** This run's maximum duration, over the flow's `timeout`. */
  timeout?: Duration;
  /**
   * Once the run is cancelled or timed out, how long task runs that ignore `ctx.signal` are waited for
   * before they are abandoned (ended Cancelled; their work may go on until the process exits). Default 10 s.
   */
  abandonAfter?: Duration;
  /** Overrides the flow's own runner / result storage for this run. */
  taskRunner?: TaskRunner;
  resultStorage?: ResultStorage;
  /**
   * The task runs of an earlier execution of this flow run (a restart, a resume): those that ended with
   * a kept result are reused, found by their run key; the others run again under their old ids.
   */
  previous?: readonly PriorTaskRun[];
  /**
   * Keep each task's result with its Success state when no result storage is set (default: when the
   * run reports to a server, which keeps them for restarts and resumes).
   */
  keepResults?: boolean;
  /** @internal set for subflows */
  parentTaskRunId?: string;
  /** @internal set for subflows: the parent's run keys and earlier execution */
  subflowResume?: EngineResume;
}

/** A task run as a finished flow run reports it. */
export interface TaskRunRecord {
  readonly info: TaskRunInfo;
  readonly label: string;
  readonly state: EngineState | undefined;
  readonly states: readonly EngineState[];
  readonly attempt: number;
  readonly value: unknown;
  readonly error: unknown;
}

export interface FlowRunResult<R> {
  readonly id: string;
  readonly name: string;
  readonly flowName: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  /** The final state: Success, Failed, Cancelled or TimedOut; or Paused, stopped at a pause(). */
  readonly state: EngineState;
  readonly states: readonly EngineState[];
  /** What the flow function returned (when it returned). */
  readonly result: R | undefined;
  /** Why the run failed: the flow function's error, or an error naming the failed task runs. */
  readonly error: unknown;
  readonly taskRuns: readonly TaskRunRecord[];
}

/** What `runFlow` needs of a flow handle. */
interface RunnableFlow {
  readonly name: string;
  readonly fn: (params: never, ctx: FlowContext) => unknown;
  readonly options: {
    params?: ParamsSchema | undefined;
    taskRunner?: TaskRunner;
    resultStorage?: ResultStorage;
  } & StateHooks<FlowContext, unknown>;
  readonly paramsJsonSchema: JsonSchema | undefined;
  readonly timeoutMs: number | undefined;
}

const NULL_REPORTER: EngineReporter = { record() {} };
const SUSPENDED = Symbol("suspended");
const ABANDONED = Symbol("abandoned");
const defaultCache = memoryResults();

/**
 * Validates the parameters (throwing `InvalidParametersError` before anything runs), then runs the flow
 * function and every task run it starts until all are final.
 */
export async function runFlow<R>(
  flow: RunnableFlow,
  params: Record<string, unknown>,
  options: RunFlowOptions = {},
): Promise<FlowRunResult<R>> {
  const parameters = await validateParams(
    flow.options.params as ParamsSchema<Record<string, unknown>> | undefined,
    params,
    {
      flowName: flow.name,
      jsonSchema: flow.paramsJsonSchema,
    },
  );
  const id = options.flowRunId ?? newId();
  const info: FlowRunInfo = {
    id,
    name: options.flowRunName ?? `${flow.name}-${id.slice(-8)}`, // the random end: ids begin with the time
    flowName: flow.name,
    parameters,
    parentTaskRunId: options.parentTaskRunId,
  };
  // Secrets read with ctx.secret are masked in everything reported from then on.
  const reporter = maskingReporter(options.reporter ?? NULL_REPORTER);
  const states: EngineState[] = [];
  // Flow hooks run once the context exists (from Running on); the run ends after they finish.
  const flowHooks: Promise<void>[] = [];
  let hookContext: FlowContext | undefined;
  let outcome: { result: unknown; error: unknown } = { result: undefined, error: undefined };
  const record = (state: EngineState) => {
    states.push(state);
    reporter.record({ type: "flow_run_state", flowRunId: id, state });
    if (hookContext) {
      const pending = callHooks(
        flow.options,
        state,
        hookContext,
        () => outcome,
        hookContext.log,
        `flow run ${info.name}`,
      );
      if (pending) flowHooks.push(pending);
    }
  };

  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason ?? new CancelledError());
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  // Set by the timer itself: a cancellation whose reason merely mentions a timeout is not one.
  let timedOut = false;
  const timeoutMs =
    options.timeout === undefined ? flow.timeoutMs : parseDuration(options.timeout, "the run's timeout");
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          if (controller.signal.aborted) return;
          timedOut = true;
          controller.abort(new RegentError("CANCELLED", `flow run exceeded its timeout of ${timeoutMs} ms`));
        }, timeoutMs);

  const runner = (options.taskRunner ?? flow.options.taskRunner ?? concurrentTaskRunner()).start({
    reporter,
    server: options.server,
    workers: options.workers,
  });
  const results = options.resultStorage ?? flow.options.resultStorage;
  const resume: EngineResume = options.subflowResume ?? {
    previous: options.previous ? new Map(options.previous.map((p) => [p.runKey, p])) : undefined,
    keepResults: options.keepResults ?? options.server !== undefined,
  };
  const engine = new FlowRunEngine(
    info,
    reporter,
    runner,
    results,
    results ?? defaultCache,
    controller.signal,
    options.admission,
    resume,
  );
  reporter.record({ type: "flow_run_created", flowRun: info });
  const releaseConsole = captureConsole();
  const ctx: FlowContext = {
    flowRunId: id,
    flowRunName: info.name,
    flowName: flow.name,
    scheduledStartTime: options.scheduledStartTime ?? new Date(),
    signal: controller.signal,
    log: engine.logger,
    secret: (ref) => resolveSecret(ref, options.server),
  };
  if (hasHooks(flow.options)) hookContext = ctx;
  engine.server = options.server;
  record({ type: "Running", timestamp: Date.now() });
  let value: unknown;
  let error: unknown;
  let threw = false;
  // Once nothing is left but pause() gates, the run stops here, Paused; its flow function is let go.
  const suspended = engine.suspended().then(() => SUSPENDED);
  // Cancelled or timed out, task runs (and a flow function) that ignore the signal are not waited for
  // forever: after the grace period they are abandoned, and the run ends.
  const abandonMs =
    options.abandonAfter === undefined ? 10_000 : parseDuration(options.abandonAfter, "abandonAfter");
  let abandonTimer: NodeJS.Timeout | undefined;
  const abandoned = new Promise<typeof ABANDONED>((resolve) => {
    // Not unref'd: a task stuck on a promise that nothing else keeps alive must not let the process exit.
    const start = () => {
      abandonTimer = setTimeout(() => resolve(ABANDONED), abandonMs);
    };
    if (controller.signal.aborted) start();
    else controller.signal.addEventListener("abort", start, { once: true });
  });
  const abandon = () =>
    engine.abandon(
      `did not stop within ${abandonMs} ms of the flow run being ${timedOut ? "timed out" : "cancelled"}; abandoned`,
    );
  try {
    const ended = await Promise.race([
      runScope.run({ engine, logger: engine.logger }, flow.fn, parameters as never, ctx),
      suspended,
      abandoned,
    ]);
    if (ended === ABANDONED) abandon();
    else if (ended !== SUSPENDED) value = ended;
  } catch (e) {
    threw = true;
    error = e;
  }
  // Independent task runs still finish after the flow function returns or throws, and their hooks too.
  if ((await Promise.race([engine.idle(), suspended, abandoned])) === ABANDONED) abandon();
  clearTimeout(abandonTimer);
  await engine.hooksDone();
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", onAbort);
  await runner.close();
  releaseConsole();

  let final: EngineState;
  const paused = engine.pausedState;
  if (controller.signal.aborted) {
    const reason = controller.signal.reason as Error | undefined;
    error ??= reason;
    final = {
      type: timedOut ? "TimedOut" : "Cancelled",
      timestamp: Date.now(),
      message: reason?.message ?? "cancelled",
    };
  } else if (threw) {
    final = {
      type: "Failed",
      timestamp: Date.now(),
      message: error instanceof Error ? error.message : String(error),
      error: serializeError(error),
    };
  } else {
    const failed = engine.unhandledFailures();
    if (failed.length > 0) {
      const shown = failed
        .slice(0, 5)
        .map((r) => `${r.label} (${r.outcome}${r.error instanceof Error ? `: ${r.error.message}` : ""})`);
      const more = failed.length > 5 ? `, and ${failed.length - 5} more` : "";
      error = new RegentError(
        "TASK_FAILED",
        `${failed.length} task run${failed.length === 1 ? "" : "s"} failed: ${shown.join(", ")}${more}`,
        { cause: failed[0]!.error },
      );
      final = {
        type: "Failed",
        timestamp: Date.now(),
        message: (error as Error).message,
        error: serializeError(error),
      };
    } else if (paused) {
      // A failure above wins over a pause: the run ends with it (a restart takes it up), not Paused.
      final = {
        type: "Paused",
        timestamp: Date.now(),
        message: paused.message,
        ...(paused.resumeBy === undefined
          ? {}
          : { data: { resumeBy: new Date(paused.resumeBy).toISOString() } }),
      };
    } else {
      final = { type: "Success", timestamp: Date.now(), message: "all task runs succeeded" };
      // Under a server, a small JSON result travels with the final state: a parent flow run reads it.
      const result = options.server ? resultData(value) : undefined;
      if (result) final = { ...final, data: result };
    }
  }
  if (paused && final.type !== "Paused") engine.endGates(`the flow run ended ${final.type} while paused`);
  outcome = { result: value, error };
  record(final);
  await Promise.all(flowHooks);
  await engine.hooksDone();
  await reporter.flush?.();
  return {
    id,
    name: info.name,
    flowName: flow.name,
    parameters,
    state: final,
    states,
    result: (final.type === "Success" || !threw ? value : undefined) as R | undefined,
    error,
    taskRuns: engine.taskRuns,
  };
}
