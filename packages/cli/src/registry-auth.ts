import { existsSync } from "node:fs";
import { type Config, InvalidUsageError } from "@regent/core";
import { dockerConfigAuth, type RegistryAuth } from "@regent/storage";

/**
 * Registry credentials by host: those `docker login` saved (in `dockerConfig`, else the Docker config
 * file), then the `[docker]` section's for its `registry`, then `given` (flags) for `given.registry`.
 */
export function registryAuth(
  config: Config,
  options: { dockerConfig?: string | undefined; given?: { registry: string } & RegistryAuth } = {},
): Record<string, RegistryAuth> {
  if (options.dockerConfig && !existsSync(options.dockerConfig))
    throw new InvalidUsageError(
      `--registry-auth ${options.dockerConfig}: no such file (a Docker config.json)`,
    );
  const auths = options.dockerConfig ? dockerConfigAuth(options.dockerConfig) : dockerConfigAuth();
  const { registry, registry_username: username, registry_password: password } = config.docker;
  if (registry && username && password) auths[registry] = { username, password };
  if (options.given) auths[options.given.registry] = options.given;
  return auths;
}
