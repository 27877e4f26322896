import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidConfigError } from "@regent/core";
import Dockerode from "dockerode";
import { type Agent, type AgentOptions, agentLog, startAgent } from "./agent-options.js";
import { dockerLauncher, type RegistryAuth } from "./internal/docker-launcher.js";

export type { RegistryAuth } from "./internal/docker-launcher.js";

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
 * The registries and credentials `docker login` saved (`auths` entries with `auth`, base64 of
 * `user:password`). Credential helpers (`credsStore`) are not read: give such registries' credentials in
 * `registryAuth`.
 */
export function dockerConfigAuth(
  file = join(process.env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json"),
): Record<string, RegistryAuth> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return {};
  }
  let config: { auths?: Record<string, { auth?: string }> };
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const found: Record<string, RegistryAuth> = {};
  for (const [registry, entry] of Object.entries(config.auths ?? {})) {
    if (!entry.auth) continue;
    const plain = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = plain.indexOf(":");
    if (colon > 0)
      found[registry.replace(/^https?:\/\//, "").replace(/\/.*$/, "")] = {
        username: plain.slice(0, colon),
        password: plain.slice(colon + 1),
      };
  }
  return found;
}

/**
 * Starts a Docker agent (DESIGN §6): the agent loop of every agent, launching each run as a container.
 * Checks the Docker engine first, and refuses to start without one, saying how to reach it.
 */
export async function startDockerAgent(options: DockerAgentOptions): Promise<DockerAgent> {
  const docker = options.docker ?? new Dockerode();
  try {
    await docker.version();
  } catch (error) {
    throw new InvalidConfigError(
      `no Docker engine answers at ${process.env.DOCKER_HOST ?? "/var/run/docker.sock"} (${(error as Error).message}): start dockerd, or set DOCKER_HOST`,
    );
  }
  return startAgent(
    options,
    dockerLauncher({
      docker,
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      command: options.command ?? ["regent", "execute", "flow-run"],
      defaultImage: options.image,
      network: options.network ?? "host",
      registryAuth: options.registryAuth ?? dockerConfigAuth(),
      env: options.env ?? {},
      removeContainers: options.removeContainers ?? true,
      log: agentLog(options),
    }),
  );
}
