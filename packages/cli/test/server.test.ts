import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  BACKENDS,
  freshDatabase,
  graphqlData,
  startRegentProcess,
  stopRegentProcesses,
  type TestDatabase,
  regentTest as test,
} from "@regent/testkit";
import { afterEach, describe, expect } from "vitest";

const databases: TestDatabase[] = [];
afterEach(async () => {
  await stopRegentProcesses();
  for (const d of databases.splice(0)) await d.dispose();
});

/** `regent server start --port 0 …`, once it prints its API URL. */
async function startServerProcess(args: readonly string[]) {
  const proc = startRegentProcess(["server", "start", "--port", "0", ...args]);
  const m = await proc.waitFor(/API\s+(http:\/\/\S+)\/graphql/);
  return { ...proc, url: m[1]! };
}

const gql = graphqlData;

for (const backend of BACKENDS) {
  describe(`regent server start on ${backend}`, () => {
    test("serves the API; the CLI and a script without any SDK use it; SIGTERM stops it cleanly", async ({
      cli,
      tmp,
    }) => {
      let dbArg: string;
      if (backend === "sqlite") dbArg = join(tmp, "regent.db");
      else {
        const database = await freshDatabase("postgres");
        databases.push(database);
        await database.close();
        dbArg = database.url;
      }
      const server = await startServerProcess(["--db", dbArg]);
      expect(server.output()).toMatch(/UI\s+http:\/\/127\.0\.0\.1:\d+\//);

      const created = await cli(["project", "create", "hello-project", "--api", server.url, "--json"]);
      expect(created.stderr).toBe("");
      expect(created.code).toBe(0);
      const listed = await cli(["get", "projects", "--api", server.url, "--json"]);
      expect(JSON.parse(listed.stdout).map((p: { name: string }) => p.name)).toEqual(["hello-project"]);
      const dup = await cli(["project", "create", "hello-project", "--api", server.url]);
      expect(dup.code).toBe(1);
      expect(dup.stderr).toMatch(/PROJECT_EXISTS.*exists already/);

      // A flow registered through the API (`regent register` comes with the storage work).
      const projectId = JSON.parse(created.stdout).id;
      const { register_flow } = await gql(
        server.url,
        `mutation($p: uuid!) { register_flow(input: { project_id: $p, name: "hello", content_hash: "x",
           parameters_schema: { type: "object", properties: { name: { type: "string", default: "world" } } } }) { id } }`,
        { p: projectId },
      );

      // Python's standard library only: what any script in any language can do.
      const script = `
import json, sys, urllib.request
url, flow_id = sys.argv[1], sys.argv[2]
def post(query, variables):
    req = urllib.request.Request(url + "/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
made = post('mutation($id: uuid!) { create_flow_run(input: { flow_id: $id, parameters: { name: "Ada" } }) { id } }', {"id": flow_id})
run_id = made["data"]["create_flow_run"]["id"]
read = post('query($id: uuid!) { flow_run_by_pk(id: $id) { id state parameters } }', {"id": run_id})
print(json.dumps(read["data"]["flow_run_by_pk"]))
`;
      const py = spawn("python3", ["-c", script, server.url, register_flow.id], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let pyOut = "";
      py.stdout.on("data", (d: Buffer) => {
        pyOut += d.toString();
      });
      const pyCode = await new Promise<number | null>((resolve) => py.on("exit", resolve));
      expect(pyCode).toBe(0);
      expect(JSON.parse(pyOut)).toMatchObject({ state: "Scheduled", parameters: { name: "Ada" } });

      const runs = await cli([
        "get",
        "flow-runs",
        "--project",
        "hello-project",
        "--api",
        server.url,
        "--json",
      ]);
      expect(JSON.parse(runs.stdout)).toHaveLength(1);

      expect(await server.stop()).toBe(0);
      expect(server.output()).toMatch(/SIGTERM: stopping…\nstopped/);
    });
  });
}

test("a CLI command against a server that is not running says so", async ({ cli }) => {
  const r = await cli(["get", "projects", "--api", "http://127.0.0.1:9"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /SERVER_UNREACHABLE.*cannot reach the Regent server at http:\/\/127\.0\.0\.1:9\/graphql/,
  );
});

test("configuration errors name the key and where it came from", async ({ cli, tmp }) => {
  const r = await cli(["get", "projects"], {
    env: { REGENT__SERVER__PORT: "http", REGENT__NOPE: "1", HOME: tmp },
  });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/server\.port \(from env REGENT__SERVER__PORT\)/);
  expect(r.stderr).toMatch(/nope \(from env REGENT__NOPE\): unknown key/);
});

test("the server's durations (late_after, heartbeat_timeout, retain_*…) and max_restarts refuse bad values", async ({
  cli,
  tmp,
}) => {
  const r = await cli(["get", "projects"], {
    env: {
      REGENT__SERVER__LATE_AFTER: "soon",
      REGENT__SERVER__RETAIN_LOGS: "-1d",
      REGENT__SERVER__HEARTBEAT_TIMEOUT: "a while",
      REGENT__SERVER__SUBMISSION_TIMEOUT: "later",
      REGENT__SERVER__MAX_RESTARTS: "-1",
      HOME: tmp,
    },
  });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    /server\.late_after \(from env REGENT__SERVER__LATE_AFTER\): a duration: a number of milliseconds or a string like "30s", "5m"/,
  );
  expect(r.stderr).toMatch(/server\.retain_logs \(from env REGENT__SERVER__RETAIN_LOGS\): a duration/);
  expect(r.stderr).toMatch(
    /server\.heartbeat_timeout \(from env REGENT__SERVER__HEARTBEAT_TIMEOUT\): a duration/,
  );
  expect(r.stderr).toMatch(
    /server\.submission_timeout \(from env REGENT__SERVER__SUBMISSION_TIMEOUT\): a duration/,
  );
  expect(r.stderr).toMatch(/server\.max_restarts \(from env REGENT__SERVER__MAX_RESTARTS\)/);
});

test("--prestarted and agent.prestarted take a whole number from 0 to 100, and say so", async ({
  cli,
  tmp,
}) => {
  const flag = await cli(["agent", "local", "start", "--prestarted", "two", "--api", "http://127.0.0.1:9"], {
    env: { HOME: tmp },
  });
  expect(flag.code).toBe(2);
  expect(flag.stderr).toMatch(/agent\.prestarted \(from flag --prestarted\): .*expected number/);
  const env = await cli(["agent", "local", "start", "--api", "http://127.0.0.1:9"], {
    env: { HOME: tmp, REGENT__AGENT__PRESTARTED: "500" },
  });
  expect(env.code).toBe(2);
  expect(env.stderr).toMatch(/agent\.prestarted \(from env REGENT__AGENT__PRESTARTED\): .*(<=|100)/);
});
