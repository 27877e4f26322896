import type { IncomingMessage } from "node:http";
import { isLoopbackHost, RUN_TOKEN_PREFIX, UnauthenticatedError } from "@regent/core";
import type { ApiKeyStore, Principal } from "../store/api-keys.js";
import type { RunTokens } from "../store/run-tokens.js";

/** Anyone, on a server that does not ask for keys (loopback by default). */
const OPEN: Principal = { keyId: undefined, keyName: undefined, scope: "admin" };

const HOW =
  "send `Authorization: Bearer <key>`; an admin creates keys with `regent auth create-key`, and `regent auth login --key <key>` saves one for the CLI";

/**
 * The principal of a request from its `Authorization` header. A presented key is always checked, even
 * where keys are not required, so a wrong key is found out on a laptop rather than in production.
 */
export async function authenticate(
  req: IncomingMessage,
  keys: ApiKeyStore,
  runTokens: RunTokens,
  keysRequired: boolean,
): Promise<Principal> {
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === "") {
    if (keysRequired) throw new UnauthenticatedError(`this server requires an API key: ${HOW}`);
    return OPEN;
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new UnauthenticatedError(`the Authorization header is not "Bearer <key>": ${HOW}`);
  const secret = match[1]!;
  if (secret.startsWith(RUN_TOKEN_PREFIX)) {
    const flowRunId = await runTokens.verify(secret);
    await runTokens.requireLive(flowRunId);
    return { keyId: undefined, keyName: `run ${flowRunId}`, scope: "runner", flowRunId };
  }
  return keys.authenticate(secret);
}

/**
 * A server without keys on loopback answers only requests addressed to a loopback name: a web page on
 * another site could otherwise reach it through DNS rebinding (its own name resolving to 127.0.0.1) and
 * run code through an agent.
 */
export function hostAllowed(req: IncomingMessage): boolean {
  const host = req.headers.host;
  if (!host) return true; // HTTP/1.0 clients and raw scripts; browsers always send Host
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
  return isLoopbackHost(name);
}
