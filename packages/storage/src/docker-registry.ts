import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidConfigError } from "@regent/core";
import type Dockerode from "dockerode";

/** Credentials for a registry, as `docker login` keeps them. */
export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
}

/** The Docker config file `docker login` writes: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export const dockerConfigFile = (): string =>
  join(process.env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");

/**
 * The registries and credentials `docker login` saved (`auths` entries with `auth`, base64 of
 * `user:password`), by registry host. Credential helpers (`credsStore`) are not read: give such
 * registries' credentials another way (flags, env).
 */
export function dockerConfigAuth(file = dockerConfigFile()): Record<string, RegistryAuth> {
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

/** The registry host of an image reference (`127.0.0.1:5000/team/img:tag` → `127.0.0.1:5000`), if any. */
export function registryOf(image: string): string | undefined {
  const first = image.split("/")[0]!;
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
    ? first
    : undefined;
}

/** Docker's `authconfig` for an image's registry, when credentials for it are known. */
export function authConfigFor(
  image: string,
  auths: Readonly<Record<string, RegistryAuth>>,
): { username: string; password: string; serveraddress: string } | undefined {
  const registry = registryOf(image);
  const auth = registry ? auths[registry] : undefined;
  return auth && registry ? { ...auth, serveraddress: registry } : undefined;
}

/** One event of a pull, push or build progress stream, as the Docker engine sends them. */
export interface DockerProgressEvent {
  readonly id?: string;
  readonly status?: string;
  readonly stream?: string;
  readonly progress?: string;
  readonly error?: string;
  readonly errorDetail?: { message?: string };
  readonly aux?: { Digest?: string; Tag?: string; ID?: string };
}

/**
 * Follows a progress stream to its end, calling `onEvent` for each event; resolves with all of them.
 * The engine reports a failure (a wrong password, a failed build step) inside the stream while the
 * HTTP status stays 200: such an event rejects with its message.
 */
export function followProgress(
  docker: Dockerode,
  stream: NodeJS.ReadableStream,
  onEvent?: (event: DockerProgressEvent) => void,
): Promise<DockerProgressEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, events: DockerProgressEvent[]) => {
        const failed = events?.find((e) => e.error || e.errorDetail);
        if (error) reject(error);
        else if (failed) reject(new Error((failed.errorDetail?.message ?? failed.error ?? "").trim()));
        else resolve(events ?? []);
      },
      onEvent,
    );
  });
}
