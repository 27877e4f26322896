import { z } from "zod";
import { InvalidUsageError } from "./errors.js";

/**
 * What an API key may do. `admin`: everything, keys included. `user`: projects, flows, runs and logs.
 * `runner`: what agents and the runs they launch need (register, claim, report, read).
 */
export const ScopeSchema = z.enum(["admin", "user", "runner"]);
export type Scope = z.infer<typeof ScopeSchema>;
export const SCOPES = ScopeSchema.options;

/**
 * The kinds of access an API field needs; each field of the API names one (the server's table).
 * - `read`: queries and the live views of runs and logs
 * - `run`: start runs and report their progress (states, task runs, logs, heartbeats, task slots)
 * - `agent`: register an agent, claim and release runs, report infrastructure failures
 * - `manage`: projects, flows, schedules, limits, notifications; cancel, restart, resume runs
 * - `admin`: API keys
 */
export type Access = "read" | "run" | "agent" | "manage" | "admin";

const GRANTS: Readonly<Record<Scope, ReadonlySet<Access>>> = {
  admin: new Set(["read", "run", "agent", "manage", "admin"]),
  user: new Set(["read", "run", "manage"]),
  runner: new Set(["read", "run", "agent"]),
};

export const scopeAllows = (scope: Scope, access: Access): boolean => GRANTS[scope].has(access);

/** The scopes that grant `access`, for messages ("needs a user or admin key"). */
export const scopesGranting = (access: Access): Scope[] => SCOPES.filter((s) => GRANTS[s].has(access));

/** Whether `host` (a listen address) is reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** `[server] auth`: `auto` asks for keys unless the server listens on loopback only; `required` always. */
export const AuthSettingSchema = z.enum(["auto", "required"]);
export type AuthSetting = z.infer<typeof AuthSettingSchema>;

/**
 * Whether the server asks every request for an API key. Without keys anyone who reaches the port can run
 * code through an agent, so only a loopback-only server goes without them by default; anything else needs
 * the explicit `insecureNoAuth`.
 */
export function keysRequired(options: {
  host: string;
  setting: AuthSetting;
  insecureNoAuth: boolean;
}): boolean {
  if (options.insecureNoAuth) return false;
  if (options.setting === "required") return true;
  return !isLoopbackHost(options.host);
}

/** API keys start with this, so they are easy to recognise in a config file and by secret scanners. */
export const API_KEY_PREFIX = "rgt_";

/** Whether `text` has the shape of an API key (the server still has to know it). */
export const looksLikeApiKey = (text: string): boolean =>
  text.startsWith(API_KEY_PREFIX) && /^[A-Za-z0-9_-]{40,100}$/.test(text);

/** `text` if it has the shape of an API key; else INVALID_USAGE saying what one looks like. */
export function checkApiKeyShape(text: string): string {
  if (!looksLikeApiKey(text))
    throw new InvalidUsageError(
      `that is not a Regent API key (they start with ${API_KEY_PREFIX}): copy the whole key`,
    );
  return text;
}

/**
 * Tokens the server mints for each run it hands to an agent (`rgr_…`): valid for that run only. Told
 * apart from API keys by this prefix.
 */
export const RUN_TOKEN_PREFIX = "rgr_";
