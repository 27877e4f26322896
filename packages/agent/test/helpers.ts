import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningServer, startServer } from "@regent/server";
import { type Backend, backendTest } from "@regent/testkit";
import { expect } from "vitest";
import { type LocalAgent, type LocalAgentOptions, startLocalAgent } from "../src/index.js";

/** The stand-in for `regent execute flow-run` (see its header). */
export const FAKE_EXECUTOR = fileURLToPath(new URL("./fake-executor.mjs", import.meta.url));

export interface TestAgent extends LocalAgent {
  /** Everything the agent logged, its runs' output included. */
  readonly lines: string[];
  /** Waits for a logged line matching `pattern` (bounded); returns it. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export interface Harness {
  server: RunningServer;
  /** Where the fake executors record their launches: one run id per line. */
  readonly launchesFile: string;
  launches(): string[];
  /** POSTs GraphQL to the current server; fails on any error. */
  ok(query: string, variables?: unknown): Promise<any>;
  /** Registers flow `name` in project `p` (labels `["prod"]` unless given); returns its id. */
  seedFlow(name: string, overrides?: Record<string, unknown>): Promise<string>;
  /** Creates a run of the flow; returns its id and name. */
  createRun(flowId: string, input?: Record<string, unknown>): Promise<{ id: string; name: string }>;
  run(
    id: string,
  ): Promise<{ state: string; state_message: string | null; agent_id: string | null; restart_count: number }>;
  /** Waits until the run is in `state` (bounded); returns it. */
  waitForState(id: string, state: string, timeoutMs?: number): Promise<{ state_message: string | null }>;
  /** The data of the run's newest state of this type. */
  stateData(id: string, state: string): Promise<{ message: string | null; data: any }>;
  /** A local agent on this server running the fake executor, stopped (and checked) after the test. */
  startAgent(options?: Partial<LocalAgentOptions>): Promise<TestAgent>;
  /** Closes the server and starts another on the same port and database (the agents' streams drop). */
  restartServer(): Promise<void>;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Pids the fake executors of a test (its `tmp`) wrote as they started, in order. */
export const startedPids = (tmp: string): number[] => linesOf(join(tmp, "pids.txt")).map(Number);

/** Waits until at least `n` fake executors have started (bounded); returns all their pids. */
export const waitForPids = (tmp: string, n: number): Promise<number[]> =>
  waitFor(`${n} executors started`, () => (startedPids(tmp).length >= n ? startedPids(tmp) : undefined));

/** The non-empty lines of a file; none when there is no such file. */
function linesOf(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** Whether a process is still running (a zombie nobody reaped counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Pids the agent reported for the processes it launched. */
export const launchedPids = (lines: readonly string[]): number[] =>
  lines.flatMap((l) => [...l.matchAll(/launched flow run .*, pid (\d+);/g)].map((m) => Number(m[1])));

/**
 * `backendTest(backend)` plus `h`: a real server on the test's database, and agents that are stopped
 * after the test, which then fails if any process an agent launched is still running.
 */
export function agentTest(backend: Backend) {
  return backendTest(backend).extend<{ h: Harness }>({
    h: async ({ database, tmp }, use) => {
      let server = await startServer({ database, port: 0 });
      const agents: TestAgent[] = [];
      const launchesFile = join(tmp, "launches.txt");
      const pidsFile = join(tmp, "pids.txt");
      let projectId: string | undefined;
      const ok = async (query: string, variables?: unknown) => {
        const res = await fetch(server.graphqlUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query, variables }),
        });
        const body = (await res.json()) as { data?: any; errors?: unknown[] };
        if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
        return body.data;
      };
      const run = async (id: string) =>
        (
          await ok(
            `query($id: uuid!) { flow_run_by_pk(id: $id) { state state_message agent_id restart_count } }`,
            { id },
          )
        ).flow_run_by_pk;
      const h: Harness = {
        server,
        launchesFile,
        launches: () => linesOf(launchesFile),
        ok,
        async seedFlow(name, overrides = {}) {
          projectId ??= (await ok(`mutation { create_project(input: { name: "p" }) { id } }`)).create_project
            .id;
          const { register_flow } = await ok(
            `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
            { input: { project_id: projectId, name, content_hash: name, labels: ["prod"], ...overrides } },
          );
          return register_flow.id;
        },
        async createRun(flowId, input = {}) {
          const { create_flow_run } = await ok(
            `mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id flow_run { name } } }`,
            { input: { flow_id: flowId, ...input } },
          );
          return { id: create_flow_run.id, name: create_flow_run.flow_run.name };
        },
        run,
        waitForState: (id, state, timeoutMs) =>
          waitFor(
            `flow run ${id} to be ${state}`,
            async () => {
              const r = await run(id);
              if (r.state === state) return r;
              // A final state other than the one awaited will not change: fail now, saying what it is.
              if (["Success", "Failed", "Cancelled"].includes(r.state))
                throw new Error(`flow run ${id} ended ${r.state} (${r.state_message}), not ${state}`);
              return undefined;
            },
            timeoutMs,
          ),
        async stateData(id, state) {
          const { flow_run_state } = await ok(
            `query($id: uuid!, $state: String!) { flow_run_state(where: { flow_run_id: { _eq: $id }, state: { _eq: $state } }, order_by: [{ version: desc }], limit: 1) { message data } }`,
            { id, state },
          );
          return flow_run_state[0];
        },
        async startAgent(options = {}) {
          const lines: string[] = [];
          const agent = await startLocalAgent({
            apiUrl: server.url,
            name: `agent-${agents.length + 1}`,
            labels: ["prod"],
            executorCommand: [process.execPath, FAKE_EXECUTOR],
            pollIntervalMs: 60_000,
            heartbeatMs: 60_000,
            stopTimeoutMs: 5_000,
            ...options,
            env: { FAKE_LAUNCHES: launchesFile, FAKE_PIDS: pidsFile, ...options.env },
            log: (line) => {
              lines.push(line);
              options.log?.(line);
            },
          });
          const testAgent: TestAgent = {
            id: agent.id,
            stop: () => agent.stop(),
            lines,
            waitForLine: (pattern, timeoutMs) =>
              waitFor(`a log line matching ${pattern}`, () => lines.find((l) => pattern.test(l)), timeoutMs),
          };
          agents.push(testAgent);
          return testAgent;
        },
        async restartServer() {
          const { port } = server;
          await server.close();
          server = await startServer({ database, port });
          h.server = server;
        },
      };
      try {
        await use(h);
      } finally {
        await Promise.all(agents.map((a) => a.stop()));
        await server.close();
      }
      // Every executor, launched for a run or pre-started, is gone once its agent has stopped.
      const started = startedPids(tmp);
      const left = [...new Set([...agents.flatMap((a) => launchedPids(a.lines)), ...started])].filter(
        isAlive,
      );
      for (const pid of left) process.kill(pid, "SIGKILL");
      expect(left, "processes launched by an agent and still running after stop()").toEqual([]);
    },
  });
}
