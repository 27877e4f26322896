import { dockerConfigAuth, type RegistryAuth } from "@regent/storage";
import Dockerode from "dockerode";
import { type Agent, type AgentOptions, agentLog, startAgent } from "./agent-options.js";
import { dockerLauncher } from "./internal/docker-launcher.js";
import { RUNTIME_COMMAND } from "./internal/run-launch.js";

export interface DockerAgentOptions extends AgentOptions {
  /** The Docker engine (default: DOCKER_HOST, else /var/run/docker.sock). */
  readonly docker?: Dockerode | undefined;
  /** What each container runs (default `regent execute flow-run`, as the Regent image provides). */
  readonly command?: readonly string[] | undefined;
  /** The image for runs whose run config names none. */
  readonly image?: string | undefined;
  /** Network for runs whose run config names none (default `host`). */
  readonly network?: string | undefined;
  /**
   * Credentials per registry host, for pulls; by default those `docker login` saved in the Docker config
   * file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`).
   */
  readonly registryAuth?: Readonly<Record<string, RegistryAuth>> | undefined;
  /** Remove each container once it has ended (default true). */
  readonly removeContainers?: boolean | undefined;
}

export type DockerAgent = Agent;

/**
 * Starts a Docker agent (DESIGN §6): the agent loop of every agent, launching each run as a container.
 * While no Docker engine answers (at start, or after it went away) it claims no runs, says why once,
 * and asks again at each poll; runs under way when the engine went away are reported lost (Lazarus).
 */
export async function startDockerAgent(options: DockerAgentOptions): Promise<DockerAgent> {
  const docker = options.docker ?? new Dockerode();
  return startAgent(
    options,
    dockerLauncher({
      docker,
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      command: options.command ?? RUNTIME_COMMAND,
      defaultImage: options.image,
      network: options.network ?? "host",
      registryAuth: options.registryAuth ?? dockerConfigAuth(),
      env: options.env ?? {},
      removeContainers: options.removeContainers ?? true,
      log: agentLog(options),
    }),
  );
}
