import { graphql } from "@regent/client";
import { maskSecrets, NotFoundError, parseSecretRef, type SecretRef } from "@regent/core";
import type { ServerLink } from "./flow-runs.js";
import type { EngineEvent, EngineReporter, EngineState } from "./types.js";

const SecretValue = graphql(`
  query SecretValue($name: String!) { secret_value(name: $name) }
`);

/**
 * Every secret value this process has read: masked wherever the engine reports text (log lines, state
 * messages, errors). Process-wide, since an executor runs one flow run and its subflows, and a value
 * read in one task must not show in another's log.
 */
const revealed = new Set<string>();

/** Reads AWS parameters and secrets; loaded only when a flow asks for one (the SDK clients are big). */
export interface AwsSecretSources {
  ssmParameter(name: string): Promise<string | undefined>;
  secretsManagerSecret(id: string): Promise<string | undefined>;
}

let aws: Promise<AwsSecretSources> | undefined;
const awsSources = (): Promise<AwsSecretSources> => {
  aws ??= import("./internal/aws-secrets.js").then((m) => m.awsSecretSources());
  return aws;
};

const notFound = (ref: string, where: string) =>
  new NotFoundError("SECRET_NOT_FOUND", `secret "${ref}" not found: ${where}`, { ref });

async function lookUp(ref: string, parsed: SecretRef, server: ServerLink | undefined): Promise<string> {
  switch (parsed.source) {
    case "store": {
      if (server) return (await server.client.request(SecretValue, { name: parsed.name })).secret_value;
      const value = process.env[parsed.name];
      if (value === undefined)
        throw notFound(
          ref,
          `this run has no server, so it reads the environment variable ${parsed.name}, which is not set`,
        );
      return value;
    }
    case "env": {
      const value = process.env[parsed.name];
      if (value === undefined) throw notFound(ref, `the environment variable ${parsed.name} is not set`);
      return value;
    }
    case "ssm": {
      const value = await (await awsSources()).ssmParameter(parsed.name);
      if (value === undefined) throw notFound(ref, `AWS SSM has no parameter ${parsed.name}`);
      return value;
    }
    case "secretsmanager": {
      const text = await (await awsSources()).secretsManagerSecret(parsed.name);
      if (text === undefined) throw notFound(ref, `AWS Secrets Manager has no secret ${parsed.name}`);
      if (parsed.jsonKey === undefined) return text;
      let value: unknown;
      try {
        value = (JSON.parse(text) as Record<string, unknown>)[parsed.jsonKey];
      } catch {
        throw notFound(ref, `the secret ${parsed.name} is not JSON, so it has no key ${parsed.jsonKey}`);
      }
      if (typeof value !== "string")
        throw notFound(ref, `the secret ${parsed.name} has no string under ${parsed.jsonKey}`);
      return value;
    }
  }
}

/**
 * `ctx.secret(ref)`: the value (see core's SecretRef for where each form is looked up), remembered so
 * that it is masked in everything the run reports from then on.
 */
export async function resolveSecret(ref: string, server: ServerLink | undefined): Promise<string> {
  const value = await lookUp(ref, parseSecretRef(ref), server);
  revealed.add(value);
  return value;
}

/** `text` with the secrets read so far masked. */
export const maskRevealed = (text: string): string => (revealed.size ? maskSecrets(text, revealed) : text);

/** A JSON-like value with the secrets read so far masked in each string. */
export function maskDeep<T>(value: T): T {
  if (revealed.size === 0) return value;
  return maskValue(value) as T;
}

function maskValue(value: unknown): unknown {
  if (typeof value === "string") return maskRevealed(value);
  if (Array.isArray(value)) return value.map(maskValue);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v)]));
  return value;
}

function maskState(state: EngineState): EngineState {
  if (state.message === undefined && state.error === undefined) return state;
  return {
    ...state,
    ...(state.message !== undefined ? { message: maskRevealed(state.message) } : {}),
    ...(state.error !== undefined ? { error: maskDeep(state.error) } : {}),
  };
}

/**
 * A reporter that masks the secrets read so far in log lines, state messages and errors before `inner`
 * sees them. Results are not masked: they are data the run's next steps and restarts read back.
 */
export function maskingReporter(inner: EngineReporter): EngineReporter {
  const mask = (event: EngineEvent): EngineEvent => {
    if (revealed.size === 0) return event;
    switch (event.type) {
      case "log":
        return { ...event, log: { ...event.log, message: maskRevealed(event.log.message) } };
      case "flow_run_state":
      case "task_run_state":
        return { ...event, state: maskState(event.state) };
      default:
        return event;
    }
  };
  return {
    record: (event) => inner.record(mask(event)),
    ...(inner.flush ? { flush: () => inner.flush!() } : {}),
  };
}
