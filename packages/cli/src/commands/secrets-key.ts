import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Config } from "@regent/core";
import { parseSecretsKey } from "@regent/server";

export const defaultSecretsKeyFile = (): string => join(homedir(), ".regent", "secrets.key");

/**
 * The key the server encrypts flows' secrets with: `[server] secrets_key`, else the key file, made (mode
 * 0600) the first time. `where` says which, for the start-up lines. A key file that cannot be made (a
 * read-only home) leaves the server without secrets, saying why, rather than not starting.
 */
export function secretsKey(config: Config): { key: Buffer | undefined; where: string } {
  if (config.server.secrets_key) return keyOrFile(config);
  try {
    return keyOrFile(config);
  } catch (error) {
    return {
      key: undefined,
      where: `${defaultSecretsKeyFile()} could not be made (${(error as Error).message}); set [server] secrets_key to use secrets`,
    };
  }
}

function keyOrFile(config: Config): { key: Buffer; where: string } {
  if (config.server.secrets_key)
    return { key: parseSecretsKey(config.server.secrets_key), where: "[server] secrets_key" };
  const file = defaultSecretsKeyFile();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    text = randomBytes(32).toString("base64");
    // "wx": two servers starting at once must not each write a key; the loser reads the winner's.
    try {
      writeFileSync(file, `${text}\n`, { mode: 0o600, flag: "wx" });
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code !== "EEXIST") throw raced;
      text = readFileSync(file, "utf8");
    }
  }
  return { key: parseSecretsKey(text), where: file };
}
