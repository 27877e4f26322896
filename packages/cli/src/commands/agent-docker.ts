import { startDockerAgent } from "@regent/agent";
import type { Config } from "@regent/core";
import { registryAuth } from "../registry-auth.js";
import { type AgentFlags, agentSettings, runUntilSignalled } from "./agent-start.js";

/**
 * `regent agent docker start`: a Docker agent that runs each claimed flow run in a container (the run
 * config's image, or `--image`), until SIGINT or SIGTERM; then it waits for the runs under way (up to
 * 30 s, then stops their containers) and exits 0.
 */
export async function agentDockerStart(
  config: Config,
  options: AgentFlags & { image?: string; network?: string; keepContainers?: boolean; registryAuth?: string },
): Promise<number> {
  const { options: common, log, banner } = agentSettings(config, options, "docker");
  return runUntilSignalled(
    () =>
      startDockerAgent({
        ...common,
        image: options.image,
        network: options.network,
        removeContainers: !options.keepContainers,
        registryAuth: registryAuth(config, { dockerConfig: options.registryAuth }),
      }),
    (agent) => banner("Regent Docker agent", agent, `, network ${options.network ?? "host"}`),
    log,
  );
}
