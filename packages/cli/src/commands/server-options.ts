import { type Config, keysRequired, parseDuration } from "@regent/core";
import type { RegentDatabase, ServerOptions } from "@regent/server";
import { builtUiDir } from "../ui-dir.js";
import { secretsKey } from "./secrets-key.js";

const optionalDuration = (value: string | number | undefined, what: string) =>
  value === undefined ? undefined : parseDuration(value, what);

/** What `regent server start` and `regent dev` start the server with, from the configuration. */
export const serverOptions = (config: Config, database: RegentDatabase, version: string): ServerOptions => ({
  database,
  secretsKey: secretsKey(config).key,
  host: config.server.host,
  port: config.server.port,
  version,
  uiDir: builtUiDir(),
  keysRequired: keysRequired({
    host: config.server.host,
    setting: config.server.auth,
    insecureNoAuth: config.server.insecure_no_auth,
  }),
  corsOrigins: config.server.cors_origins,
  rateLimitPerMinute: config.server.rate_limit,
  services: {
    lateAfterMs: parseDuration(config.server.late_after, "server.late_after"),
    agentTimeoutMs: parseDuration(config.server.agent_timeout, "server.agent_timeout"),
    heartbeatTimeoutMs: parseDuration(config.server.heartbeat_timeout, "server.heartbeat_timeout"),
    submissionTimeoutMs: parseDuration(config.server.submission_timeout, "server.submission_timeout"),
    maxRestarts: config.server.max_restarts,
    retainRunsMs: optionalDuration(config.server.retain_runs, "server.retain_runs"),
    retainLogsMs: optionalDuration(config.server.retain_logs, "server.retain_logs"),
    smtp: config.server.smtp_url ? { url: config.server.smtp_url, from: config.server.smtp_from } : undefined,
  },
});
