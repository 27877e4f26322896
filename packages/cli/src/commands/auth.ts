import { graphql } from "@regent/client";
import { type Config, checkApiKeyShape, InvalidUsageError, parseDuration } from "@regent/core";
import {
  activeProfile,
  defaultConfigFile,
  profilesOf,
  readConfigFile,
  type Tree,
  writeConfigFile,
} from "../config.js";
import { client as apiClient, formatTable, print } from "./remote.js";

const ApiKeys = graphql(`
  query ApiKeys { api_keys { id name scope prefix created created_by expires revoked last_used } }
`);
const CreateApiKey = graphql(`
  mutation CreateApiKey($name: String!, $scope: api_key_scope!, $expiresIn: String) {
    create_api_key(input: { name: $name, scope: $scope, expires_in: $expiresIn }) {
      key api_key { id name scope prefix created created_by expires revoked last_used }
    }
  }
`);
const RevokeApiKey = graphql(`
  mutation RevokeApiKey($idOrName: String!) {
    revoke_api_key(input: { id_or_name: $idOrName }) { id name scope prefix created created_by expires revoked last_used }
  }
`);
const AuthInfo = graphql(`query AuthInfo { auth_info { scope key_id key_name keys_required } }`);

interface KeyRow {
  id: string;
  name: string;
  scope: string;
  prefix: string;
  created: string;
  expires: string | null;
  revoked: string | null;
  last_used: string | null;
}

const keyTable = (keys: readonly KeyRow[]) =>
  formatTable(
    ["NAME", "SCOPE", "PREFIX", "CREATED", "EXPIRES", "LAST USED", "REVOKED", "ID"],
    keys.map((k) => [k.name, k.scope, `${k.prefix}…`, k.created, k.expires, k.last_used, k.revoked, k.id]),
  );

/**
 * The keys straight from the database (`--db`): how the first admin key is made on a server that
 * requires keys, and how keys are managed when no key is at hand. Migrates first, as the server does.
 */
async function withDatabase<T>(url: string, use: (keys: import("@regent/server").ApiKeyStore) => Promise<T>) {
  const { ApiKeyStore, migrateToLatest, openDatabase } = await import("@regent/server");
  const database = await openDatabase(url);
  try {
    await migrateToLatest(database);
    return await use(new ApiKeyStore(database, () => new Date()));
  } finally {
    await database.close();
  }
}

/** `regent auth create-key --name N --scope S [--expires 30d] [--db URL]`: prints the key once. */
export async function createKey(
  config: Config,
  options: { name?: string; scope?: string; expires?: string; db?: string; json?: boolean },
): Promise<number> {
  if (!options.name || !options.scope)
    throw new InvalidUsageError(
      "usage: regent auth create-key --name NAME --scope admin|user|runner [--expires 30d]",
    );
  // Read before anything is opened or sent, so a bad duration fails first.
  const expiresInMs = options.expires ? parseDuration(options.expires, "--expires") : undefined;
  const { key, info } = options.db
    ? await withDatabase(options.db, (keys) =>
        keys.create({
          name: options.name!,
          scope: options.scope!,
          expires: expiresInMs === undefined ? undefined : new Date(Date.now() + expiresInMs),
        }),
      )
    : await apiClient(config)
        .request(CreateApiKey, {
          name: options.name,
          scope: options.scope as "admin" | "user" | "runner",
          expiresIn: options.expires ?? null,
        })
        .then((d) => ({ key: d.create_api_key.key, info: d.create_api_key.api_key }));
  print(
    options.json ?? false,
    { key, ...info },
    () =>
      `created API key "${info.name}" (scope ${info.scope}${info.expires ? `, expires ${info.expires}` : ""}):\n\n  ${key}\n\n` +
      "It is shown this once: store it now. Use it with `regent auth login --key <key>`, as REGENT__API_KEY,\nor as the header `Authorization: Bearer <key>`.\n",
  );
  return 0;
}

/** `regent auth list-keys [--db URL]`: every key without its secret. */
export async function listKeys(config: Config, options: { db?: string; json?: boolean }): Promise<number> {
  const keys: KeyRow[] = options.db
    ? await withDatabase(options.db, (store) => store.list())
    : (await apiClient(config).request(ApiKeys)).api_keys;
  print(options.json ?? false, keys, () =>
    keys.length ? keyTable(keys) : "no API keys: create one with `regent auth create-key`\n",
  );
  return 0;
}

/** `regent auth revoke-key ID|NAME [--db URL]`. */
export async function revokeKey(
  config: Config,
  idOrName: string,
  options: { db?: string; json?: boolean },
): Promise<number> {
  const key: KeyRow = options.db
    ? await withDatabase(options.db, (store) => store.revoke(idOrName))
    : (await apiClient(config).request(RevokeApiKey, { idOrName })).revoke_api_key;
  print(options.json ?? false, key, () => `revoked API key "${key.name}" at ${key.revoked}\n`);
  return 0;
}

/** `regent auth whoami`: the scope and key the server takes this CLI's requests to have. */
export async function whoami(config: Config, options: { json?: boolean }): Promise<number> {
  const { auth_info } = await apiClient(config).request(AuthInfo);
  print(options.json ?? false, auth_info, () =>
    auth_info.key_name
      ? `key "${auth_info.key_name}" (scope ${auth_info.scope}) at ${config.api}\n`
      : `no key: ${config.api} does not require one (scope ${auth_info.scope})\n`,
  );
  return 0;
}

/**
 * `regent auth login --key K`: checks the key against the API, then saves it and the API address in the
 * config file (readable by its owner only): in the profile in use, if any, else at the top.
 */
export async function login(
  config: Config,
  options: { key?: string; configFile?: string; profile?: string; json?: boolean },
): Promise<number> {
  const key = options.key?.trim();
  if (!key) throw new InvalidUsageError("usage: regent auth login --key <key> [--api URL]");
  checkApiKeyShape(key);
  const { auth_info } = await apiClient({ ...config, api_key: key }).request(AuthInfo);
  const file = options.configFile ?? defaultConfigFile();
  const tree = readConfigFile(file);
  const profile = activeProfile(options.profile, process.env.REGENT__PROFILE, tree.profile);
  if (profile) {
    const profiles = profilesOf(tree);
    profiles[profile] = { ...((profiles[profile] as Tree | undefined) ?? {}), api: config.api, api_key: key };
    tree.profiles = profiles;
  } else {
    tree.api = config.api;
    tree.api_key = key;
  }
  writeConfigFile(file, tree);
  print(
    options.json ?? false,
    { ...auth_info, api: config.api, config: file, profile: profile ?? null },
    () =>
      `logged in to ${config.api} with key "${auth_info.key_name}" (scope ${auth_info.scope}); saved in ${file}${profile ? ` (profile ${profile})` : ""}\n`,
  );
  return 0;
}
