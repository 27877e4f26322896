import { readFileSync } from "node:fs";
import { startKubernetesAgent } from "@regent/agent";
import { type Config, InvalidUsageError, KubernetesRunConfigSchema } from "@regent/core";
import { parse } from "yaml";
import { type AgentFlags, agentSettings, runUntilSignalled } from "./agent-start.js";

export interface KubernetesAgentFlags extends AgentFlags {
  namespace?: string;
  jobTemplate?: string;
  serviceAccountName?: string;
  imagePullSecrets: string[];
  disableJobDeletion?: boolean;
  image?: string;
}

/** The agent's defaults for runs, from its flags, checked as a Kubernetes run config would be. */
export function kubernetesDefaults(flags: KubernetesAgentFlags) {
  let jobTemplate: Record<string, unknown> | undefined;
  if (flags.jobTemplate) {
    try {
      jobTemplate = parse(readFileSync(flags.jobTemplate, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new InvalidUsageError(`--job-template ${flags.jobTemplate}: ${(error as Error).message}`);
    }
    if (jobTemplate === null || typeof jobTemplate !== "object" || Array.isArray(jobTemplate))
      throw new InvalidUsageError(`--job-template ${flags.jobTemplate}: not a Job (a YAML or JSON object)`);
  }
  const parsed = KubernetesRunConfigSchema.safeParse({
    type: "kubernetes",
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
    ...(flags.serviceAccountName ? { serviceAccountName: flags.serviceAccountName } : {}),
    ...(flags.imagePullSecrets.length ? { imagePullSecrets: flags.imagePullSecrets } : {}),
    ...(jobTemplate ? { jobTemplate } : {}),
  });
  if (!parsed.success)
    throw new InvalidUsageError(
      parsed.error.issues
        .map((i) => `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`)
        .join("; "),
    );
  const { type: _type, ...defaults } = parsed.data;
  return defaults;
}

/**
 * `regent agent kubernetes start`: a Kubernetes agent that runs each claimed flow run as a Job, until
 * SIGINT or SIGTERM. The cluster is the in-cluster service account's when it runs in a pod (as a
 * Deployment), else `$KUBECONFIG` / `~/.kube/config`'s current context.
 */
export async function agentKubernetesStart(config: Config, flags: KubernetesAgentFlags): Promise<number> {
  const { options: common, log, banner } = agentSettings(config, flags, "kubernetes");
  const defaults = kubernetesDefaults(flags);
  return runUntilSignalled(
    () =>
      startKubernetesAgent({
        ...common,
        defaults,
        image: flags.image,
        keepJobs: flags.disableJobDeletion ?? false,
      }),
    (agent) => banner("Regent Kubernetes agent", agent, `, namespace ${defaults.namespace ?? "default"}`),
    log,
  );
}
