import type { Config } from "@regent/core";
import { defaultDatabasePath, migrateToLatest, openDatabase, startServer } from "@regent/server";
import { stylerFor } from "../style.js";
import { builtUiDir } from "../ui-dir.js";
import { serverOptions } from "./server-options.js";

/** `regent server start`: migrates the database, serves the API until SIGTERM/SIGINT, then stops cleanly. */
export async function serverStart(config: Config, version: string): Promise<number> {
  const paint = stylerFor(process.stdout);
  const url = config.server.db ?? defaultDatabasePath();
  const database = await openDatabase(url);
  const applied = await migrateToLatest(database);
  const server = await startServer(serverOptions(config, database, version));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(
    `${paint("green", "Regent server")} ${version} on ${database.description}${applied.length ? ` (migrated: ${applied.join(", ")})` : ""}`,
  );
  log(`  API     ${server.graphqlUrl}`);
  log(`  UI      ${server.url}/${builtUiDir() ? "" : " (not built: run npm run build)"}`);
  log(`  health  ${server.url}/health · metrics ${server.url}/metrics`);
  if (!["127.0.0.1", "::1", "localhost"].includes(config.server.host)) {
    log(
      paint(
        "yellow",
        `  listening on ${config.server.host}: anyone who can reach this address can use the API (API keys come with a later release)`,
      ),
    );
  }
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
