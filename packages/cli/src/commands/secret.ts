import { readFileSync } from "node:fs";
import { graphql } from "@regent/client";
import { type Config, InvalidUsageError } from "@regent/core";
import { readStdin } from "../stdin.js";
import { client, formatTable, print } from "./remote.js";

const SetSecret = graphql(`
  mutation SetSecret($name: String!, $value: String!) { set_secret(input: { name: $name, value: $value }) { name created updated } }
`);
const Secrets = graphql(`query Secrets { secrets { name created updated } }`);
const DeleteSecret = graphql(`
  mutation DeleteSecret($name: String!) { delete_secret(input: { name: $name }) { success } }
`);

/** `regent secret set NAME`: the value from stdin or --from-file, never from the command line. */
export async function setSecret(
  config: Config,
  name: string,
  options: { fromFile?: string; json?: boolean },
): Promise<number> {
  let value: string;
  if (options.fromFile) {
    try {
      value = readFileSync(options.fromFile, "utf8");
    } catch (error) {
      throw new InvalidUsageError(`--from-file ${options.fromFile}: ${(error as Error).message}`);
    }
  } else
    value = await readStdin(
      'regent secret set reads the value from standard input (e.g. `printf %s "$VALUE" | regent secret set NAME`), or from --from-file; a value on the command line would stay in your shell\'s history',
    );
  const { set_secret } = await client(config).request(SetSecret, { name, value });
  print(
    Boolean(options.json),
    set_secret,
    () => `set secret ${set_secret.name}; flows read it with ctx.secret("${set_secret.name}")\n`,
  );
  return 0;
}

export async function listSecrets(config: Config, options: { json?: boolean }): Promise<number> {
  const { secrets } = await client(config).request(Secrets, {});
  print(Boolean(options.json), secrets, () =>
    formatTable(
      ["NAME", "CREATED", "UPDATED"],
      secrets.map((s) => [s.name, s.created, s.updated]),
    ),
  );
  return 0;
}

export async function deleteSecret(
  config: Config,
  name: string,
  options: { json?: boolean },
): Promise<number> {
  await client(config).request(DeleteSecret, { name });
  print(Boolean(options.json), { name, deleted: true }, () => `deleted secret ${name}\n`);
  return 0;
}
