import { startLocalAgent } from "@regent/agent";
import type { Config } from "@regent/core";
import { defaultDatabasePath, migrateToLatest, openDatabase, startServer } from "@regent/server";
import { REGENT_BIN } from "../bin-path.js";
import { stylerFor } from "../style.js";
import { builtUiDir } from "../ui-dir.js";
import { register } from "./register.js";
import { serverOptions } from "./server-options.js";

export interface DevOptions {
  folder: string;
  project: string;
}

/**
 * `regent dev` (what `npm start` runs): one process with the server on the embedded SQLite database, a
 * local agent, and the flows of a folder registered into a project — the whole loop on one machine.
 */
export async function dev(config: Config, options: DevOptions, version: string): Promise<number> {
  const paint = stylerFor(process.stdout);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const database = await openDatabase(config.server.db ?? defaultDatabasePath());
  await migrateToLatest(database);
  const server = await startServer(serverOptions(config, database, version));
  const local: Config = { ...config, api: server.url };
  let agent: Awaited<ReturnType<typeof startLocalAgent>> | undefined;
  try {
    if (!(await server.store.projectByName(options.project)))
      await server.store.createProject(options.project, "flows registered by regent dev");
    await register(local, options.folder, { project: options.project, label: [] });
    // The dev agent carries every label the registered flows (and their schedules' clocks) ask for, and
    // takes unlabeled runs too.
    const json = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v);
    const labels = (await database.db.selectFrom("flow").select(["labels", "schedule"]).execute()).flatMap(
      (r) => [
        ...(json(r.labels) as string[]),
        ...((json(r.schedule) as { clocks: { labels?: string[] }[] } | null)?.clocks ?? []).flatMap(
          (c) => c.labels ?? [],
        ),
      ],
    );
    agent = await startLocalAgent({
      apiUrl: server.url,
      name: "regent-dev",
      labels: [...new Set(labels)],
      acceptUnlabeled: true,
      executorCommand: [process.execPath, REGENT_BIN, "execute", "flow-run"],
      prestarted: config.agent.prestarted,
      log: (line) => out(paint("gray", line)),
    });
    out("");
    out(`${paint("green", "Regent dev")} ${version} on ${database.description}`);
    out(`  API    ${server.graphqlUrl}`);
    out(
      `  UI     ${server.url}/${builtUiDir() ? "   ← open this: quick-run a flow, watch it live" : " (not built: run npm run build)"}`,
    );
    out(
      `  agent  regent-dev (local)${labels.length ? ` with labels ${[...new Set(labels)].join(", ")}` : ""}`,
    );
    out("");
    out("Start a run from another shell:");
    out(
      `  npx regent run --name hello --project ${options.project} --param name=Ada --watch --api ${server.url}`,
    );
    out("");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    out("stopping…");
    return 0;
  } finally {
    await agent?.stop();
    await server.close();
    await database.close();
  }
}
