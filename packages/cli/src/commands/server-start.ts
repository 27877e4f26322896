import { type Config, isLoopbackHost } from "@regent/core";
import { defaultDatabasePath, migrateToLatest, openDatabase, startServer } from "@regent/server";
import { stylerFor } from "../style.js";
import { builtUiDir } from "../ui-dir.js";
import { secretsKey } from "./secrets-key.js";

const secretsKeyLine = (config: Config) => {
  const { key, where } = secretsKey(config);
  return key ? `encrypted with the key in ${where}` : `not available: ${where}`;
};

import { serverOptions } from "./server-options.js";

/** `regent server start`: migrates the database, serves the API until SIGTERM/SIGINT, then stops cleanly. */
export async function serverStart(config: Config, version: string): Promise<number> {
  const paint = stylerFor(process.stdout);
  const url = config.server.db ?? defaultDatabasePath();
  const database = await openDatabase(url);
  const applied = await migrateToLatest(database);
  const options = serverOptions(config, database, version);
  const server = await startServer(options);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(
    `${paint("green", "Regent server")} ${version} on ${database.description}${applied.length ? ` (migrated: ${applied.join(", ")})` : ""}`,
  );
  log(`  API     ${server.graphqlUrl}`);
  log(`  UI      ${server.url}/${builtUiDir() ? "" : " (not built: run npm run build)"}`);
  log(`  health  ${server.url}/health · metrics ${server.url}/metrics`);
  log(`  secrets ${secretsKeyLine(config)}`);
  if (options.keysRequired) log(`  auth    API keys required (create one: regent auth create-key --db …)`);
  else if (isLoopbackHost(config.server.host))
    log(`  auth    none needed: listening on ${config.server.host} only (keys sent are still checked)`);
  else
    log(
      paint(
        "red",
        `  auth    NONE (--insecure-no-auth): anyone who can reach ${config.server.host}:${server.port} can run code through your agents`,
      ),
    );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: stopping…`);
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await server.close();
  await database.close();
  log("stopped");
  return 0;
}
