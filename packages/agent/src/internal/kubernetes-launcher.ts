import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job, type V1Pod } from "@kubernetes/client-node";
import type { KubernetesRunConfig } from "@regent/core";
import { jobManifest, jobName, podSelector } from "./kubernetes-job.js";
import type { ClaimedRun, Launched, Launcher, LaunchOutcome, WorkerLaunch } from "./launcher.js";
import { runConfigFor } from "./run-config.js";
import { noImage, runEnvironment, runImage, WORKER_COMMAND, withAgentDefaults } from "./run-launch.js";

// The agent loads this module on demand, and KubeConfig with it (see kubernetes-agent.ts).
export { KubeConfig };

export interface KubernetesLauncherOptions {
  readonly kubeConfig: KubeConfig;
  readonly apiUrl: string;
  readonly command: readonly string[];
  /** Fields for runs whose run config leaves them unset (the agent's flags): namespace, template, account. */
  readonly defaults: Partial<Omit<KubernetesRunConfig, "type">>;
  readonly defaultImage: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  /** How often a Job's pod is read. */
  readonly pollMs: number;
  /** Leave finished Jobs (and their pods) for Kubernetes' TTL instead of deleting them at once. */
  readonly keepJobs: boolean;
  readonly log: (line: string) => void;
}

/** Waiting reasons of a container that will not start without a change (a pull that keeps failing…). */
const STUCK = new Set(["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError"]);
const TTL_SECONDS = 600;

/** How a Job's pod (or the Job) ended, in the words an infrastructure failure is reported with; undefined while it runs. */
export function podOutcome(
  pod: V1Pod | undefined,
  job: V1Job | undefined,
  memoryLimit: string | undefined,
): LaunchOutcome | undefined {
  const failed = job?.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
  const status = pod?.status;
  const container = status?.containerStatuses?.[0];
  const waiting = container?.state?.waiting;
  if (waiting?.reason && STUCK.has(waiting.reason))
    return { kind: "not-started", error: new Error(`${waiting.reason}: ${waiting.message ?? "no message"}`) };
  if (status?.phase === "Failed" && status.reason === "Evicted")
    return {
      kind: "exited",
      description: `was evicted (Evicted: ${status.message ?? "no message"})`,
      exitCode: null,
      signal: null,
      data: { reason: "Evicted" },
    };
  const terminated = container?.state?.terminated;
  if (terminated?.reason === "OOMKilled")
    return {
      kind: "exited",
      description: `was killed for using more memory than its limit${memoryLimit ? ` of ${memoryLimit}` : ""} (OOMKilled)`,
      exitCode: terminated.exitCode ?? null,
      signal: "SIGKILL",
      data: { reason: "OOMKilled" },
    };
  if (terminated && (status?.phase === "Succeeded" || status?.phase === "Failed"))
    return {
      kind: "exited",
      description: `exited with code ${terminated.exitCode}${terminated.reason && terminated.reason !== "Completed" && terminated.reason !== "Error" ? ` (${terminated.reason})` : ""}`,
      exitCode: terminated.exitCode ?? null,
      signal: null,
    };
  if (failed)
    return {
      kind: "exited",
      description: `was stopped by Kubernetes (${failed.reason ?? "Failed"}: ${failed.message ?? "no message"})`,
      exitCode: null,
      signal: null,
      data: { reason: failed.reason },
    };
  return undefined;
}

/** Why a pod is not scheduled, when it is not: `Unschedulable: 0/3 nodes are available…`. */
function unscheduled(pod: V1Pod | undefined): string | undefined {
  const c = pod?.status?.conditions?.find((x) => x.type === "PodScheduled" && x.status === "False");
  return c ? `${c.reason ?? "not scheduled"}: ${c.message ?? ""}`.trim() : undefined;
}

/**
 * Runs each flow run as a Kubernetes Job (one pod, restartPolicy Never) in the run config's namespace,
 * with the run's environment and token, resources, service account and pull secrets; follows its pod and
 * says how it ended — evicted, out of memory, an image that will not pull, a deadline — then deletes
 * the Job (its TTL otherwise).
 */
export function kubernetesLauncher(options: KubernetesLauncherOptions): Launcher {
  const batch = options.kubeConfig.makeApiClient(BatchV1Api);
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const code = (error: unknown) => (error as { code?: number }).code;

  return {
    type: "kubernetes",
    noun: "Kubernetes job",
    launch(run: ClaimedRun, worker?: WorkerLaunch): Launched {
      const config = withAgentDefaults(
        options.defaults,
        runConfigFor("kubernetes", run.runConfig, run.flowRunConfig),
      );
      const image = runImage(config.image, run, options.defaultImage);
      if (!image) throw noImage("kubernetesRun");
      const namespace = config.namespace ?? "default";
      const manifest = jobManifest(run, config, {
        namespace,
        image,
        command: worker ? [...WORKER_COMMAND, ...worker.args] : options.command,
        env: runEnvironment(run, options.apiUrl, options.env, config.env),
        ttlSecondsAfterFinished: TTL_SECONDS,
        workerId: worker?.id,
      });
      const name = jobName(run, worker?.id);
      const label = worker ? `[${run.name} ${worker.id}]` : `[${run.name}]`;
      let created = false;
      let stopAsked: boolean | undefined;
      const deleteJob = (force: boolean) =>
        batch
          .deleteNamespacedJob({
            name,
            namespace,
            propagationPolicy: "Background",
            ...(force ? { gracePeriodSeconds: 0 } : {}),
          })
          .catch((error: unknown) => {
            if (code(error) !== 404)
              options.log(`could not delete job ${namespace}/${name}: ${(error as Error).message}`);
          });

      const ended = (async (): Promise<LaunchOutcome> => {
        let outcome: LaunchOutcome | undefined;
        try {
          await batch.createNamespacedJob({ namespace, body: manifest as V1Job });
          created = true;
          options.log(`${label} created job ${namespace}/${name}`);
          if (stopAsked !== undefined) void deleteJob(stopAsked);
          const selector = podSelector(run, worker?.id);
          let said: string | undefined;
          for (;;) {
            await new Promise((r) => setTimeout(r, options.pollMs));
            let job: V1Job;
            try {
              job = await batch.readNamespacedJobStatus({ name, namespace });
            } catch (error) {
              if (code(error) === 404)
                return { kind: "exited", description: "was deleted", exitCode: null, signal: null };
              continue; // the API server did not answer: read again at the next poll
            }
            const pods = await core
              .listNamespacedPod({ namespace, labelSelector: selector })
              .catch(() => undefined);
            const pod = pods?.items[0];
            outcome = podOutcome(pod, job, config.memoryLimit);
            if (outcome) return outcome;
            const waiting = unscheduled(pod);
            if (waiting && waiting !== said)
              options.log(`${label} job ${namespace}/${name} is pending: ${waiting}`);
            said = waiting;
          }
        } catch (error) {
          const body = (error as { body?: unknown }).body;
          const why =
            typeof body === "string" ? (JSON.parse(body) as { message?: string }).message : undefined;
          return { kind: "not-started", error: new Error(why ?? (error as Error).message) };
        } finally {
          if (created && !options.keepJobs) await deleteJob(false);
        }
      })();

      return {
        get ref() {
          return created ? `job ${namespace}/${name}` : undefined;
        },
        ended,
        stop(force) {
          if (!created) {
            stopAsked = force;
            return;
          }
          void deleteJob(force);
        },
      };
    },
  };
}
