import { checkApiKeyShape, InvalidUsageError, PROFILE_NAME, ProfileSchema } from "@regent/core";
import {
  defaultConfigFile,
  profileIn,
  profilesOf,
  readConfigFile,
  type Tree,
  writeConfigFile,
} from "../config.js";
import { formatTable, print } from "./remote.js";

interface ProfileOptions {
  readonly configFile?: string | undefined;
  readonly api?: string;
  readonly key?: string;
  readonly use?: boolean;
  readonly json?: boolean;
}

/**
 * `regent profile create|use|list|delete`: several servers in one config file, each with its API and key
 * (`[profiles.NAME]`), and the one in use (`profile = "NAME"`; env REGENT__PROFILE and --profile win).
 */
export function profile(action: string, name: string | undefined, options: ProfileOptions): number {
  const file = options.configFile ?? defaultConfigFile();
  const tree = readConfigFile(file);
  const profiles = profilesOf(tree);
  const json = options.json ?? false;
  const needName = () => {
    if (!name) throw new InvalidUsageError(`usage: regent profile ${action} NAME`);
    return name;
  };
  switch (action) {
    case "create": {
      const n = needName();
      if (!PROFILE_NAME.test(n))
        throw new InvalidUsageError(`a profile's name is letters, digits, - and _ (up to 64), not "${n}"`);
      if (!options.api)
        throw new InvalidUsageError("regent profile create NAME --api URL [--key KEY] [--use]");
      if (options.key) checkApiKeyShape(options.key);
      const checked = ProfileSchema.safeParse({
        api: options.api,
        ...(options.key ? { api_key: options.key } : {}),
      });
      if (!checked.success)
        throw new InvalidUsageError(
          `--api must be a URL such as https://regent.example.com, not "${options.api}"`,
        );
      const existed = n in profiles;
      profiles[n] = checked.data;
      tree.profiles = profiles;
      if (options.use) tree.profile = n;
      writeConfigFile(file, tree);
      print(
        json,
        { name: n, api: checked.data.api, current: tree.profile === n },
        () =>
          `${existed ? "updated" : "created"} profile ${n} (${checked.data.api})${options.use ? ", in use" : `; use it with regent profile use ${n}`}\n`,
      );
      return 0;
    }
    case "use": {
      const n = needName();
      const { api } = profileIn(file, profiles, n); // fails naming the profiles there are
      tree.profile = n;
      writeConfigFile(file, tree);
      print(json, { name: n }, () => `using profile ${n} (${api})\n`);
      return 0;
    }
    case "delete": {
      const n = needName();
      profileIn(file, profiles, n);
      delete profiles[n];
      tree.profiles = profiles;
      if (tree.profile === n) delete tree.profile;
      writeConfigFile(file, tree);
      print(json, { name: n }, () => `deleted profile ${n}\n`);
      return 0;
    }
    case "list": {
      const rows = Object.entries(profiles).map(([n, p]) => {
        const { api, api_key } = p as Tree;
        return {
          name: n,
          api: String(api ?? ""),
          key: typeof api_key === "string" ? `${api_key.slice(0, 10)}…` : null,
          current: tree.profile === n,
        };
      });
      print(json, rows, () =>
        rows.length
          ? formatTable(
              ["", "NAME", "API", "KEY"],
              rows.map((r) => [r.current ? "*" : "", r.name, r.api, r.key ?? "none"]),
            )
          : "no profiles: make one with regent profile create NAME --api URL [--key KEY]\n",
      );
      return 0;
    }
    default:
      throw new InvalidUsageError(`regent profile takes create, use, list or delete, not "${action}"`);
  }
}
