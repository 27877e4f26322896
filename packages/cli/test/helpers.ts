import { join } from "node:path";
import {
  type Backend,
  freshDatabase,
  type RegentFixtures,
  startRegentProcess,
  stopRegentProcesses,
  type TestDatabase,
} from "@regent/testkit";
import { afterEach, expect } from "vitest";

/**
 * Stops the test's Regent processes after each test, and drops the PostgreSQL databases it made. Returns
 * `dbFor(backend, tmp)`: what `--db` takes for a fresh database of that backend.
 */
export function useServerDatabases() {
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    await stopRegentProcesses();
    for (const d of databases.splice(0)) await d.dispose();
  });
  return async (backend: Backend, tmp: string): Promise<string> => {
    if (backend === "sqlite") return join(tmp, "regent.db");
    const database = await freshDatabase("postgres");
    databases.push(database);
    await database.close();
    return database.url;
  };
}

/** `regent server start --db DB --port 0`; resolves with its API base URL once it listens. */
export async function startServer(db: string): Promise<string> {
  const server = startRegentProcess(["server", "start", "--db", db, "--port", "0"]);
  return (await server.waitFor(/API\s+(http:\/\/127\.0\.0\.1:\d+)\/graphql/))[1]!;
}

/**
 * A server on `db` with project `demo` and the flows of `flows` (a file or folder) registered into it;
 * resolves with the server's API base URL. Fails the test when a step does.
 */
export async function startServerWithFlows(
  cli: RegentFixtures["cli"],
  db: string,
  flows: string,
): Promise<string> {
  const api = await startServer(db);
  const project = await cli(["project", "create", "demo", "--api", api]);
  expect(project.code, project.stderr).toBe(0);
  const registered = await cli(["register", flows, "--project", "demo", "--api", api]);
  expect(registered.code, registered.stderr).toBe(0);
  return api;
}

/** Polls `probe` every 200 ms until it gives a value; fails naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Whether a process of this pid is still there. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
