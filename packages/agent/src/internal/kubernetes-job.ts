import type { KubernetesRunConfig } from "@regent/core";
import type { ClaimedRun } from "./launcher.js";

/** Labels on every Job and pod the agent makes: which run and execution they are. */
export const RUN_LABEL = "regent.io/flow-run-id";
export const FLOW_LABEL = "regent.io/flow-id";
export const EXECUTION_LABEL = "regent.io/execution";
/** On the Jobs and pods of a run's cluster workers (not on its executor's): which worker. */
export const WORKER_LABEL = "regent.io/worker-id";

type Obj = Record<string, unknown>;
const obj = (value: unknown): Obj =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {};

export interface JobOptions {
  readonly namespace: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Seconds a finished Job is kept before Kubernetes deletes it (the agent deletes it sooner unless told not to). */
  readonly ttlSecondsAfterFinished: number;
  /** For one of the run's cluster workers: its id (the Job is named and labelled after it). */
  readonly workerId?: string | undefined;
}

/** The Job's name: the run and its execution (a restarted run gets a new Job), within 63 characters. */
export const jobName = (run: Pick<ClaimedRun, "id" | "restartCount">, workerId?: string): string =>
  `regent-${run.id}-${run.restartCount}${workerId ? `-${workerId.split("-").pop()}` : ""}`.slice(0, 63);

/** The label selector of the pods of a run's execution: its executor's, or one worker's. */
export const podSelector = (run: Pick<ClaimedRun, "id" | "restartCount">, workerId?: string): string =>
  `${RUN_LABEL}=${run.id},${EXECUTION_LABEL}=${run.restartCount},${workerId ? `${WORKER_LABEL}=${workerId}` : `!${WORKER_LABEL}`}`;

/**
 * The batch/v1 Job that runs one execution of a flow run: one pod, `restartPolicy: Never`, no retries
 * by Kubernetes (Regent's Lazarus decides), labelled with the run, flow and execution; its first
 * container runs the flow with the run's environment and the config's resources. `jobTemplate` is the
 * base the rest goes over.
 */
export function jobManifest(run: ClaimedRun, config: KubernetesRunConfig, options: JobOptions): Obj {
  const template = obj(config.jobTemplate);
  const spec = obj(template.spec);
  const podTemplate = obj(spec.template);
  const podSpec = obj(podTemplate.spec);
  const containers = Array.isArray(podSpec.containers) ? (podSpec.containers as Obj[]) : [];
  const first = containers[0] ?? {};
  const labels = {
    "app.kubernetes.io/managed-by": "regent",
    [RUN_LABEL]: run.id,
    [FLOW_LABEL]: run.flowId,
    [EXECUTION_LABEL]: String(run.restartCount),
    ...(options.workerId ? { [WORKER_LABEL]: options.workerId } : {}),
  };
  const quantities = (cpu: string | undefined, memory: string | undefined) =>
    cpu || memory ? { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } : undefined;
  const requests = quantities(config.cpuRequest, config.memoryRequest);
  const limits = quantities(config.cpuLimit, config.memoryLimit);
  const resources = obj(first.resources);
  const container: Obj = {
    ...first,
    name: typeof first.name === "string" ? first.name : options.workerId ? "worker" : "flow",
    image: options.image,
    command: [...options.command],
    env: [
      ...(Array.isArray(first.env) ? (first.env as Obj[]) : []),
      ...Object.entries(options.env).map(([name, value]) => ({ name, value })),
    ],
    ...(config.imagePullPolicy ? { imagePullPolicy: config.imagePullPolicy } : {}),
    ...(requests || limits || Object.keys(resources).length
      ? {
          resources: {
            ...resources,
            ...(requests ? { requests: { ...obj(resources.requests), ...requests } } : {}),
            ...(limits ? { limits: { ...obj(resources.limits), ...limits } } : {}),
          },
        }
      : {}),
  };
  return {
    ...template,
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      ...obj(template.metadata),
      name: jobName(run, options.workerId),
      namespace: options.namespace,
      labels: { ...obj(obj(template.metadata).labels), ...labels },
    },
    spec: {
      ...spec,
      backoffLimit: 0,
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished,
      template: {
        ...podTemplate,
        metadata: {
          ...obj(podTemplate.metadata),
          labels: { ...obj(obj(podTemplate.metadata).labels), ...labels },
        },
        spec: {
          ...podSpec,
          restartPolicy: "Never",
          ...(config.serviceAccountName ? { serviceAccountName: config.serviceAccountName } : {}),
          ...(config.imagePullSecrets?.length
            ? { imagePullSecrets: config.imagePullSecrets.map((name) => ({ name })) }
            : {}),
          containers: [container, ...containers.slice(1)],
        },
      },
    },
  };
}
