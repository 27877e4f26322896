import { InvalidUsageError } from "./errors.js";

/**
 * Where `ctx.secret(ref)` finds a value:
 * - `NAME`: the server's secret store (`regent secret set NAME`); a run without a server (`regent run`)
 *   reads the environment variable `NAME` instead, so the same flow works on a laptop;
 * - `env:NAME`: the environment variable, always;
 * - `ssm:/path/name`: an AWS Systems Manager parameter (SecureString decrypted);
 * - `secretsmanager:id`: an AWS Secrets Manager secret's string; `secretsmanager:id#key` one key of its JSON.
 */
export type SecretRef =
  | { readonly source: "store"; readonly name: string }
  | { readonly source: "env"; readonly name: string }
  | { readonly source: "ssm"; readonly name: string }
  | { readonly source: "secretsmanager"; readonly name: string; readonly jsonKey: string | undefined };

/** Names in the server's store: letters, digits, `_ . -`, starting with a letter (like env variables). */
export const SECRET_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,199}$/;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A `ctx.secret` reference read into where to look; INVALID_USAGE saying the forms for a bad one. */
export function parseSecretRef(ref: string): SecretRef {
  const bad = (why: string): never => {
    throw new InvalidUsageError(
      `secret "${ref}": ${why}; write NAME (the server's store), env:NAME, ssm:/path or secretsmanager:id[#key]`,
    );
  };
  const colon = ref.indexOf(":");
  if (colon < 0) {
    if (!SECRET_NAME.test(ref)) bad("a name is letters, digits and _ . -, starting with a letter");
    return { source: "store", name: ref };
  }
  const prefix = ref.slice(0, colon);
  const rest = ref.slice(colon + 1);
  switch (prefix) {
    case "env":
      if (!ENV_NAME.test(rest)) bad("not an environment variable name");
      return { source: "env", name: rest };
    case "ssm":
      if (!/^[A-Za-z0-9_.\-/]{1,2048}$/.test(rest)) bad("not an SSM parameter name");
      return { source: "ssm", name: rest };
    case "secretsmanager": {
      const [id, key] = rest.split("#", 2) as [string, string | undefined];
      if (!/^[A-Za-z0-9/_+=.@:-]{1,2048}$/.test(id)) bad("not a Secrets Manager id or ARN");
      if (key !== undefined && key === "") bad("nothing after #");
      return { source: "secretsmanager", name: id, jsonKey: key };
    }
    default:
      return bad(`unknown source "${prefix}"`);
  }
}

/** What replaces a secret's value in logs and messages. */
export const SECRET_MASK = "***";

/**
 * Values shorter than this are not masked: masking "1" or "yes" would garble every log line that holds
 * those characters, and so short a value is no secret worth the name.
 */
export const MIN_MASKED_LENGTH = 4;

/** `text` with every occurrence of each value replaced by SECRET_MASK (longest values first). */
export function maskSecrets(text: string, values: Iterable<string>): string {
  let out = text;
  const sorted = [...values].filter((v) => v.length >= MIN_MASKED_LENGTH).sort((a, b) => b.length - a.length);
  for (const value of sorted) if (out.includes(value)) out = out.split(value).join(SECRET_MASK);
  return out;
}

/** Names of settings whose values are secrets when written in plain: `DB_PASSWORD`, `apiToken`, `AWS_SECRET_ACCESS_KEY`. */
const SENSITIVE_NAME =
  /pass(word|wd|phrase)?($|[^a-z])|secret|token|api_?key|private_?key|access_?key|credential|auth/i;

/** Whether a setting's name says its value is a secret. */
export const looksSensitive = (name: string): boolean => SENSITIVE_NAME.test(name);

/**
 * A run config (or any JSON) for showing to people: string values under names that look like secrets
 * (`env.DB_PASSWORD`, `apiToken`) replaced by SECRET_MASK. Flows should read secrets with ctx.secret;
 * this keeps those written into a run config by hand off the screen.
 */
export function redactSensitive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSensitive);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        typeof v === "string" && looksSensitive(k) ? SECRET_MASK : redactSensitive(v),
      ]),
    );
  return value;
}
