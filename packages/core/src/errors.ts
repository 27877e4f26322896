import { z } from "zod";

export type Fault = "user" | "infrastructure";

/**
 * Every stable error code, classified once: a user fault fails the run or task (retries apply where
 * `retriable`), an infrastructure fault means the process, container, pod or task died (Lazarus applies).
 * The same codes appear in GraphQL `extensions.code` and in `docs/errors.md`.
 */
export const ERROR_CODES = {
  INVALID_PARAMETERS: {
    fault: "user",
    retriable: false,
    summary: "parameters do not match the flow's schema",
  },
  INVALID_CONFIG: {
    fault: "user",
    retriable: false,
    summary: "a configuration value is missing or of the wrong type",
  },
  INVALID_TRANSITION: {
    fault: "user",
    retriable: false,
    summary: "the state change is not allowed from the current state",
  },
  INVALID_USAGE: {
    fault: "user",
    retriable: false,
    summary: "a command or API was called with wrong arguments",
  },
  STALE_STATE_VERSION: {
    fault: "user",
    retriable: false,
    summary: "the state changed since the writer read it; read it again",
  },
  PROJECT_NOT_FOUND: { fault: "user", retriable: false, summary: "no project with that id or name" },
  PROJECT_EXISTS: { fault: "user", retriable: false, summary: "a project with that name exists already" },
  FLOW_ARCHIVED: {
    fault: "user",
    retriable: false,
    summary: "the flow version is archived; run the newest version",
  },
  FLOW_RUN_NOT_FOUND: { fault: "user", retriable: false, summary: "no flow run with that id" },
  TASK_RUN_NOT_FOUND: { fault: "user", retriable: false, summary: "no task run with that id" },
  AGENT_NOT_FOUND: { fault: "user", retriable: false, summary: "no agent with that id; register it first" },
  LIMIT_NOT_FOUND: { fault: "user", retriable: false, summary: "no concurrency limit of that kind and name" },
  NOTIFICATION_RULE_NOT_FOUND: {
    fault: "user",
    retriable: false,
    summary: "no notification rule with that id",
  },
  UNAUTHENTICATED: {
    fault: "user",
    retriable: false,
    summary: "no API key, or one the server does not accept (unknown, expired or revoked)",
  },
  FORBIDDEN: { fault: "user", retriable: false, summary: "the API key's scope does not allow this" },
  RATE_LIMITED: {
    fault: "user",
    retriable: true,
    summary: "too many expensive calls with this API key; wait the time the message gives",
  },
  API_KEY_NOT_FOUND: { fault: "user", retriable: false, summary: "no API key with that id or name" },
  SECRET_NOT_FOUND: {
    fault: "user",
    retriable: false,
    summary: "no secret by that name where ctx.secret looked (the message says where)",
  },
  SECRETS_UNAVAILABLE: {
    fault: "user",
    retriable: false,
    summary:
      "the server cannot encrypt or decrypt secrets: no [server] secrets_key, or not the key they were stored with",
  },
  API_ERROR: { fault: "user", retriable: false, summary: "the API refused a request (see the message)" },
  SERVER_UNREACHABLE: {
    fault: "infrastructure",
    retriable: true,
    summary: "the Regent server could not be reached",
  },
  DATABASE_UNAVAILABLE: {
    fault: "infrastructure",
    retriable: true,
    summary: "the server cannot reach its database; it retries on the next request",
  },
  FLOW_LOAD_FAILED: {
    fault: "user",
    retriable: false,
    summary: "the flow file does not compile or throws when imported",
  },
  FLOW_NOT_FOUND: { fault: "user", retriable: false, summary: "no flow where one was expected" },
  REGISTRY_AUTH_FAILED: {
    fault: "user",
    retriable: false,
    summary: "the image registry refused the credentials (docker login, or the --registry-* flags)",
  },
  IMAGE_BUILD_FAILED: {
    fault: "user",
    retriable: false,
    summary: "the flow's Docker image did not build (the Dockerfile's own words follow)",
  },
  DOCKER_UNAVAILABLE: {
    fault: "infrastructure",
    retriable: true,
    summary: "no Docker engine answers (start dockerd, or set DOCKER_HOST)",
  },
  REGISTRY_UNAVAILABLE: {
    fault: "infrastructure",
    retriable: true,
    summary: "the image registry could not be reached or failed",
  },
  TASK_NOT_FOUND: {
    fault: "user",
    retriable: false,
    summary: "a pool or cluster worker could not find a task by name in the flow module",
  },
  TASK_FAILED: { fault: "user", retriable: true, summary: "a task raised an error" },
  EXECUTION_SUPERSEDED: {
    fault: "infrastructure",
    // The run is retried already: Lazarus gave it to a new execution.
    retriable: true,
    summary: "the run was started again since this executor's execution (Lazarus took it for lost)",
  },
  RESULT_NOT_FOUND: {
    fault: "user",
    retriable: false,
    summary: "a restarted or resumed run could not read a task's kept result back",
  },
  TASK_TIMED_OUT: { fault: "user", retriable: true, summary: "a task ran longer than its timeout" },
  TRIGGER_FAILED: {
    fault: "user",
    retriable: false,
    summary: "a task's trigger was not met by its upstream states",
  },
  UPSTREAM_FAILED: {
    fault: "user",
    retriable: false,
    summary: "a value awaited by the flow came from a failed task run",
  },
  NOT_SERIALIZABLE: { fault: "user", retriable: false, summary: "a value that must be serialised cannot be" },
  NON_RETRIABLE: {
    fault: "user",
    retriable: false,
    summary: "a task raised an error that must not be retried",
  },
  CANCELLED: { fault: "user", retriable: false, summary: "the run was cancelled" },
  INFRASTRUCTURE_FAILURE: {
    fault: "infrastructure",
    retriable: true,
    summary: "the process running the work died",
  },
  WORKER_CRASHED: {
    fault: "infrastructure",
    retriable: true,
    summary: "a pool or cluster worker ended while running a task (or cluster workers kept ending)",
  },
} as const satisfies Record<string, { fault: Fault; retriable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const classifyError = (code: ErrorCode): Fault => ERROR_CODES[code].fault;

export const SerializedErrorSchema: z.ZodType<SerializedError> = z.lazy(() =>
  z.object({
    code: z.string(),
    name: z.string(),
    message: z.string(),
    stack: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
    cause: SerializedErrorSchema.optional(),
  }),
);
export interface SerializedError {
  code: string;
  name: string;
  message: string;
  stack?: string | undefined;
  details?: Record<string, unknown> | undefined;
  cause?: SerializedError | undefined;
}

/** Base of every error Regent raises on purpose: a stable `code`, optional `details`, ES2022 `cause`. */
export class RegentError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }

  get fault(): Fault {
    return classifyError(this.code);
  }
}

export interface ParameterIssue {
  /** Dotted path of the parameter, e.g. `name` or `rows.0.id`; empty for the whole object. */
  readonly path: string;
  readonly message: string;
}

export class InvalidParametersError extends RegentError {
  readonly issues: readonly ParameterIssue[];
  constructor(issues: readonly ParameterIssue[], flowName?: string) {
    const lines = issues.map((i) => `  - ${i.path || "(parameters)"}: ${i.message}`).join("\n");
    super("INVALID_PARAMETERS", `invalid parameters${flowName ? ` for flow "${flowName}"` : ""}:\n${lines}`, {
      details: { issues },
    });
    this.issues = issues;
  }
}

/** A record looked up by id or name is not there; `code` says which kind. */
export class NotFoundError extends RegentError {
  constructor(
    code:
      | "PROJECT_NOT_FOUND"
      | "FLOW_NOT_FOUND"
      | "FLOW_RUN_NOT_FOUND"
      | "TASK_RUN_NOT_FOUND"
      | "AGENT_NOT_FOUND"
      | "LIMIT_NOT_FOUND"
      | "NOTIFICATION_RULE_NOT_FOUND"
      | "API_KEY_NOT_FOUND"
      | "SECRET_NOT_FOUND",
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details ? { details } : undefined);
  }
}

export class StaleStateVersionError extends RegentError {
  constructor(readVersion: number, currentVersion: number) {
    super(
      "STALE_STATE_VERSION",
      `the state changed since it was read (read version ${readVersion}, now ${currentVersion}); read it again`,
      { details: { readVersion, currentVersion } },
    );
  }
}

export class InvalidTransitionError extends RegentError {
  constructor(from: string, to: string, reason: string) {
    super("INVALID_TRANSITION", `cannot go from ${from} to ${to}: ${reason}`, { details: { from, to } });
  }
}

export class InvalidConfigError extends RegentError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("INVALID_CONFIG", message, details ? { details } : undefined);
  }
}

export class InvalidUsageError extends RegentError {
  constructor(message: string) {
    super("INVALID_USAGE", message);
  }
}

export class FlowLoadError extends RegentError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("FLOW_LOAD_FAILED", message, options);
  }
}

/** Building, pushing or pulling a flow's Docker image failed; `code` says how. */
export class DockerImageError extends RegentError {
  constructor(
    code: "REGISTRY_AUTH_FAILED" | "IMAGE_BUILD_FAILED" | "DOCKER_UNAVAILABLE" | "REGISTRY_UNAVAILABLE",
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(code, message, options);
  }
}

export class FlowNotFoundError extends RegentError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("FLOW_NOT_FOUND", message, details ? { details } : undefined);
  }
}

export class TaskNotFoundError extends RegentError {
  constructor(taskName: string, moduleUrl: string) {
    super(
      "TASK_NOT_FOUND",
      `task "${taskName}" is not defined at module scope of ${moduleUrl}; pool workers re-import the flow module and look tasks up by name, so define tasks with task() at the top level of a module`,
      { details: { taskName, moduleUrl } },
    );
  }
}

export class TaskTimeoutError extends RegentError {
  constructor(taskName: string, timeoutMs: number) {
    super("TASK_TIMED_OUT", `task "${taskName}" exceeded its timeout of ${timeoutMs} ms`, {
      details: { taskName, timeoutMs },
    });
  }
}

export class TriggerFailedError extends RegentError {
  constructor(taskName: string, trigger: string, upstream: readonly string[]) {
    super(
      "TRIGGER_FAILED",
      `task "${taskName}" not run: trigger ${trigger} was not met by upstream states ${upstream.join(", ")}`,
      {
        details: { taskName, trigger },
      },
    );
  }
}

export class UpstreamFailedError extends RegentError {
  constructor(taskName: string, state: string, cause?: unknown) {
    super("UPSTREAM_FAILED", `task run "${taskName}" ended ${state}`, {
      cause,
      details: { taskName, state },
    });
  }
}

export class NotSerializableError extends RegentError {
  constructor(what: string, cause?: unknown) {
    const why = cause instanceof Error ? `: ${cause.message}` : "";
    super("NOT_SERIALIZABLE", `${what} cannot be serialised${why}`, { cause });
  }
}

export class CancelledError extends RegentError {
  constructor(message = "the run was cancelled") {
    super("CANCELLED", message);
  }
}

export class InfrastructureError extends RegentError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("INFRASTRUCTURE_FAILURE", message, details ? { details } : undefined);
  }
}

const isErrorCode = (code: unknown): code is ErrorCode =>
  typeof code === "string" && Object.hasOwn(ERROR_CODES, code);

/** The stable code of any thrown value: its own when it is a RegentError, else `fallback`. */
export function errorCodeOf(error: unknown, fallback: ErrorCode = "TASK_FAILED"): ErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? code : fallback;
}

/** A JSON-safe copy of any thrown value, kept with the run's state. */
export function serializeError(
  error: unknown,
  fallback: ErrorCode = "TASK_FAILED",
  depth = 0,
): SerializedError {
  if (error instanceof Error) {
    const out: SerializedError = {
      code: errorCodeOf(error, fallback),
      name: error.name,
      message: error.message,
      stack: error.stack,
    };
    if (error instanceof RegentError && error.details) out.details = error.details;
    if (error.cause !== undefined && depth < 5) out.cause = serializeError(error.cause, fallback, depth + 1);
    return out;
  }
  return { code: fallback, name: "NonError", message: typeof error === "string" ? error : safeString(error) };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    try {
      return String(value);
    } catch {
      // e.g. a cyclic object without a prototype: no JSON, no toString.
      return Object.prototype.toString.call(value);
    }
  }
}

/** No API key where the server requires one, or a key it does not accept. */
export class UnauthenticatedError extends RegentError {
  constructor(message: string) {
    super("UNAUTHENTICATED", message);
  }
}

/** A key or token that is known but may not do this (a run's token touching another run, say). */
export class ForbiddenError extends RegentError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("FORBIDDEN", message, details ? { details } : undefined);
  }
}
