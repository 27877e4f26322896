import type { KubeConfig } from "@kubernetes/client-node";
import type { KubernetesRunConfig } from "@regent/core";
import { type Agent, type AgentOptions, agentLog, startAgent } from "./agent-options.js";
import { RUNTIME_COMMAND } from "./internal/run-launch.js";

export interface KubernetesAgentOptions extends AgentOptions {
  /** The cluster: default the in-cluster service account when running in a pod, else `$KUBECONFIG` / `~/.kube/config`. */
  readonly kubeConfig?: KubeConfig | undefined;
  /** For runs whose run config leaves them unset: namespace, service account, pull secrets, job template. */
  readonly defaults?: Partial<Omit<KubernetesRunConfig, "type">> | undefined;
  readonly image?: string | undefined;
  readonly command?: readonly string[] | undefined;
  /** How often a Job's pod is read (default 2 s). */
  readonly jobPollMs?: number | undefined;
  /** Leave finished Jobs for Kubernetes' TTL (10 min) instead of deleting them at once. */
  readonly keepJobs?: boolean | undefined;
}

export type KubernetesAgent = Agent;

/**
 * Starts a Kubernetes agent (DESIGN §6): the agent loop of every agent, launching each run as a batch/v1
 * Job. The Kubernetes client is loaded only here, so other agents do without it.
 */
export async function startKubernetesAgent(options: KubernetesAgentOptions): Promise<KubernetesAgent> {
  const { KubeConfig, kubernetesLauncher } = await import("./internal/kubernetes-launcher.js");
  let kubeConfig = options.kubeConfig;
  if (!kubeConfig) {
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
  }
  return startAgent(
    options,
    kubernetesLauncher({
      kubeConfig,
      apiUrl: options.apiUrl,
      command: options.command ?? RUNTIME_COMMAND,
      defaults: options.defaults ?? {},
      defaultImage: options.image,
      env: options.env ?? {},
      pollMs: options.jobPollMs ?? 2_000,
      keepJobs: options.keepJobs ?? false,
      log: agentLog(options),
    }),
  );
}
