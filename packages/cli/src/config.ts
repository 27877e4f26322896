import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { type Config, ConfigSchema, InvalidConfigError, type Profile, ProfileSchema } from "@regent/core";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";

export const defaultConfigFile = (): string => join(homedir(), ".regent", "config.toml");

/** Run context passed to executors in env; not configuration. */
const CONTEXT_KEYS = new Set(["flow_run_id"]);

export type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1]!] = value;
}

function walk(tree: Tree, prefix: string[] = []): Array<[string[], unknown]> {
  return Object.entries(tree).flatMap(([k, v]) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? walk(v as Tree, [...prefix, k])
      : [[[...prefix, k], v] as [string[], unknown]],
  );
}

/** The kind of value the setting at `path` takes (`array`, `number`, `boolean`, `string`…), from ConfigSchema. */
function settingKind(path: readonly string[]): string | undefined {
  type Node = { def?: { type: string; innerType?: Node }; shape?: Record<string, Node> } | undefined;
  const unwrap = (node: Node): Node => {
    let n = node;
    while (n?.def && ["optional", "default", "prefault", "nullable"].includes(n.def.type))
      n = n.def.innerType;
    return n;
  };
  let node = unwrap(ConfigSchema as unknown as Node);
  for (const key of path) node = unwrap(node?.def?.type === "object" ? node.shape?.[key] : undefined);
  return node?.def?.type;
}

/**
 * Env text → a value of the setting's type (read from ConfigSchema): lists as JSON or comma-separated,
 * whole numbers and booleans as such; the rest, and text that is not of its type, as given (the schema
 * then says what is wrong).
 */
function readEnvValue(path: readonly string[], text: string): unknown {
  switch (settingKind(path)) {
    case "array":
      if (text.trim().startsWith("[")) return JSON.parse(text);
      return text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    case "number":
      return /^\d+$/.test(text.trim()) ? Number(text) : text;
    case "boolean":
      return text.trim() === "true" ? true : text.trim() === "false" ? false : text;
    default:
      return text;
  }
}

/** The config file as a tree; {} when there is none. */
export function readConfigFile(file: string): Tree {
  if (!existsSync(file)) return {};
  try {
    return parseToml(readFileSync(file, "utf8")) as Tree;
  } catch (error) {
    throw new InvalidConfigError(`${file} is not valid TOML: ${(error as Error).message}`);
  }
}

/** Writes the config file readable by its owner only: it holds API keys. */
export function writeConfigFile(file: string, tree: Tree): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${stringifyToml(tree)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // a file that existed keeps its old mode on write
}

/** The profile in use: `--profile`, else env REGENT__PROFILE, else the file's `profile`. */
export function activeProfile(...candidates: unknown[]): string | undefined {
  const name = candidates.find((c) => typeof c === "string" && c.trim() !== "");
  return name === undefined ? undefined : String(name).trim();
}

/** The config file's `[profiles]` table ({} when it has none). */
export const profilesOf = (tree: Tree): Tree =>
  typeof tree.profiles === "object" && tree.profiles !== null ? (tree.profiles as Tree) : {};

/** The profile `name` of a `[profiles]` table, validated; a clear error when it is not there. */
export function profileIn(file: string, all: Tree, name: string): Profile {
  const found = all[name];
  if (found === undefined)
    throw new InvalidConfigError(
      `no profile "${name}" in ${file} (profiles: ${Object.keys(all).join(", ") || "none"}); make it with regent profile create ${name} --api URL`,
    );
  const result = ProfileSchema.safeParse(found);
  if (!result.success)
    throw new InvalidConfigError(
      `profile "${name}" in ${file}: ${result.error.issues.map((i) => `${i.path.join(".") || "(profile)"}: ${i.code === "unrecognized_keys" ? `unknown key ${i.keys.join(", ")} (a profile has api and api_key)` : i.message}`).join("; ")}`,
    );
  return result.data;
}

export interface LoadConfigOptions {
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, as paths: `{ "server.port": 4300 }`. */
  readonly flags?: Record<string, unknown>;
}

/** `config.toml` < env `REGENT__…` < flags, validated; errors name the key and where it came from. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const file = options.file ?? defaultConfigFile();
  const env = options.env ?? process.env;
  const merged: Tree = {};
  const sources = new Map<string, string>();

  const parsed = readConfigFile(file);
  const { profile: fileProfile, profiles: _profiles, ...own } = parsed;
  for (const [path, value] of walk(own)) {
    setPath(merged, path, value);
    sources.set(path.join("."), file);
  }
  const chosen = activeProfile(options.flags?.profile, env.REGENT__PROFILE, fileProfile);
  if (chosen) {
    const profile = profileIn(file, profilesOf(parsed), chosen);
    for (const [key, value] of Object.entries(profile)) {
      setPath(merged, [key], value);
      sources.set(key, `profile ${chosen} in ${file}`);
    }
  }
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith("REGENT__") || text === undefined || name === "REGENT__PROFILE") continue;
    const path = name.slice("REGENT__".length).toLowerCase().split("__");
    if (path.length === 1 && CONTEXT_KEYS.has(path[0]!)) continue;
    let value: unknown;
    try {
      value = readEnvValue(path, text);
    } catch (error) {
      throw new InvalidConfigError(`env ${name}: ${(error as Error).message}`);
    }
    setPath(merged, path, value);
    sources.set(path.join("."), `env ${name}`);
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined || key === "profile") continue;
    setPath(merged, key.split("."), value);
    sources.set(key, `flag --${key.split(".").pop()}`);
  }

  const result = ConfigSchema.safeParse(merged);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const keys =
      issue.code === "unrecognized_keys"
        ? issue.keys.map((k) => [...issue.path.map(String), k].join("."))
        : [issue.path.map(String).join(".")];
    return keys
      .map((key) => {
        const source = sources.get(key) ?? "default";
        const what = issue.code === "unrecognized_keys" ? "unknown key" : issue.message;
        return `  - ${key} (from ${source}): ${what}`;
      })
      .join("\n");
  });
  throw new InvalidConfigError(`invalid configuration:\n${lines.join("\n")}`);
}
