export {
  type CatchUp,
  checkSchedule,
  cron,
  type DockerRunConfig,
  type DockerStorage,
  type Duration,
  databaseStorage,
  dockerRun,
  dockerStorage,
  type EcsRunConfig,
  ecsRun,
  type FireTime,
  type FlowConcurrency,
  InvalidParametersError,
  interval,
  type KubernetesRunConfig,
  kubernetesRun,
  type LocalRunConfig,
  localRun,
  localStorage,
  nextFireTimes,
  RegentError,
  type RunConfig,
  type RunStateType,
  rrule,
  type S3Storage,
  type Schedule,
  type ScheduleClock,
  type ScheduleInput,
  type Storage,
  s3Storage,
  type Trigger,
} from "@regent/core";
export {
  type ClusterWorkerOptions,
  type ClusterWorkerResult,
  runClusterWorker,
} from "./cluster-worker.js";
export type { FlowContext, TaskContext } from "./context.js";
export { type Flow, type FlowOptions, flow, isFlow } from "./flow.js";
export {
  type ChildFlowRun,
  type ServerLink,
  type StartFlowRunOptions,
  startFlowRun,
} from "./flow-runs.js";
export { TaskFuture, Unmapped, unmapped } from "./future.js";
export type { StateHooks, TaskHookContext } from "./hooks.js";
export type { FlowRunResult, RunFlowOptions, TaskRunRecord } from "./internal/run-flow.js";
export type { TaskRunner, TaskRunnerEnvironment } from "./internal/runner.js";
export { type UntilServerAnswersOptions, untilServerAnswers } from "./internal/server-retry.js";
export { memoryReporter, multiReporter } from "./reporters.js";
export { type CacheEntry, localResults, type ResultStorage } from "./results.js";
export { type S3ResultsOptions, s3Results } from "./results-s3.js";
export { type PauseOptions, type PriorTaskRun, pause } from "./resume.js";
export {
  type ClusterTaskRunner,
  type ClusterTaskRunnerOptions,
  type ClusterWorker,
  type ClusterWorkerEnd,
  type ClusterWorkerLauncher,
  type ClusterWorkerLaunchers,
  clusterTaskRunner,
} from "./runners/cluster.js";
export { type ConcurrentTaskRunnerOptions, concurrentTaskRunner } from "./runners/concurrent.js";
export { type WorkerPoolTaskRunnerOptions, workerPoolTaskRunner } from "./runners/worker-pool.js";
export { maskRevealed } from "./secrets.js";
export { type ServerReporterOptions, serverReporter } from "./server-reporter.js";
export { FailSignal, fail, NonRetriableError, RetryAfterError, SkipSignal, skip } from "./signals.js";
export { type MapInput, type Task, type TaskInput, type TaskOptions, task } from "./task.js";
export {
  type ServerTaskAdmissionOptions,
  serverTaskAdmission,
  type TaskAdmission,
  type TaskRunAtGate,
} from "./task-admission.js";
export type {
  EngineEvent,
  EngineReporter,
  EngineState,
  FlowRunInfo,
  KeptResult,
  Logger,
  LogLevel,
  LogRecord,
  TaskRunInfo,
} from "./types.js";
