import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import { expect } from "vitest";
import { useServerDatabases } from "./helpers.js";

const dbFor = useServerDatabases();
const fixtures = new URL("./fixtures/flows-of-flows", import.meta.url).pathname;
const whoamiFlow = new URL("./fixtures/run-token/whoami.ts", import.meta.url).pathname;
const keyOf = (output: string) => /\b(rgt_[A-Za-z0-9_-]{43})\b/.exec(output)?.[1];

// A server that requires keys, end to end: the first key from the database, the CLI logged in with a
// user key, an agent and the runs it launches with a runner key (a parent flow starting a child flow).
test("with keys required, a user key registers and runs flows and a runner key runs the agent", async ({
  cli,
  tmp,
}) => {
  const db = await dbFor("sqlite", tmp);
  const config = join(tmp, "config.toml");
  const first = await cli(["auth", "create-key", "--name", "boot", "--scope", "admin", "--db", db]);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toMatch(/shown this once/);
  const admin = keyOf(first.stdout)!;
  expect(admin).toBeDefined();

  const server = startRegentProcess(["server", "start", "--db", db, "--port", "0"], {
    REGENT__SERVER__AUTH: "required",
  });
  const api = (await server.waitFor(/API\s+(http:\/\/127\.0\.0\.1:\d+)\/graphql/))[1]!;
  await server.waitFor(/auth\s+API keys required/);

  // Without a key: refused, saying what to do.
  const anonymous = await cli(["project", "create", "demo", "--api", api]);
  expect(anonymous.code).not.toBe(0);
  expect(anonymous.stderr).toMatch(/requires an API key.*regent auth create-key/);

  const userKey = await cli(
    ["auth", "create-key", "--name", "dev", "--scope", "user", "--json", "--api", api],
    {
      env: { REGENT__API_KEY: admin },
    },
  );
  expect(userKey.code, userKey.stderr).toBe(0);
  const user = JSON.parse(userKey.stdout).key as string;
  const runnerKey = await cli(["auth", "create-key", "--name", "agent", "--scope", "runner", "--api", api], {
    env: { REGENT__API_KEY: admin },
  });
  const runner = keyOf(runnerKey.stdout)!;

  // Logging in stores the key for later commands, in a file only its owner reads.
  const login = await cli(["--config", config, "--api", api, "auth", "login", "--key", user]);
  expect(login.code, login.stderr).toBe(0);
  expect(login.stdout).toMatch(/logged in to .* with key "dev" \(scope user\)/);
  expect(statSync(config).mode & 0o777).toBe(0o600);
  expect(readFileSync(config, "utf8")).toContain(`api_key = "${user}"`);
  const whoami = await cli(["--config", config, "auth", "whoami"]);
  expect(whoami.stdout).toMatch(/key "dev" \(scope user\)/);

  // A user key may not manage keys; the logged-in CLI works without --api or a key on the command line.
  const denied = await cli(["--config", config, "auth", "list-keys"]);
  expect(denied.code).not.toBe(0);
  expect(denied.stderr).toMatch(/api_keys needs a key with scope admin; this request's key has scope user/);
  expect((await cli(["--config", config, "project", "create", "demo"])).code).toBe(0);
  const registered = await cli(["--config", config, "register", fixtures, "--project", "demo"]);
  expect(registered.code, registered.stderr).toBe(0);

  // The agent works with the runner key alone; the runs it launches, each with its own token, report for
  // themselves and start child runs (one from an executor started ahead of it, which waited with the
  // agent's key).
  startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--prestarted", "1", "--api", api], {
    REGENT__API_KEY: runner,
  });
  const run = await cli(["--config", config, "run", "--name", "parent", "--project", "demo", "--watch"]);
  expect(run.code, run.stdout + run.stderr).toBe(0);
  expect(run.stdout).toMatch(/finished Success/);
  const { flow_run } = await graphqlData(
    api,
    `{ flow_run(where: { flow: { name: { _eq: "child" } } }) { state } }`,
    {},
    { apiKey: user },
  );
  expect(flow_run).toEqual([{ state: "Success" }]);

  // A run's process holds its run's token, not the agent's runner key.
  const registeredPeek = await cli(["--config", config, "register", whoamiFlow, "--project", "demo"]);
  expect(registeredPeek.code, registeredPeek.stderr).toBe(0);
  const peek = await cli(["--config", config, "run", "--name", "whoami", "--project", "demo", "--watch"]);
  expect(peek.code, peek.stdout + peek.stderr).toBe(0);
  const id = /created flow run \S+ \(([0-9a-f-]{36})\)/.exec(peek.stdout)?.[1];
  expect(peek.stdout).toContain(`key run ${id}`);
  expect(peek.stdout).toContain("sees 1 run(s)");
  expect(peek.stdout).toContain("register_agent: FORBIDDEN");

  // Listing shows names and prefixes, never the keys; revoking cuts the key off.
  const listed = await cli(["auth", "list-keys", "--api", api], { env: { REGENT__API_KEY: admin } });
  expect(listed.stdout).toMatch(/^dev\s+user\s+rgt_/m);
  expect(listed.stdout).not.toContain(user);
  const revoked = await cli(["auth", "revoke-key", "dev", "--api", api], { env: { REGENT__API_KEY: admin } });
  expect(revoked.stdout).toMatch(/revoked API key "dev"/);
  const after = await cli(["--config", config, "project", "create", "other"]);
  expect(after.code).not.toBe(0);
  expect(after.stderr).toMatch(/"dev" was revoked/);
}, 120_000);

test("regent server start on a non-loopback address requires keys unless --insecure-no-auth", async ({
  tmp,
}) => {
  const db = await dbFor("sqlite", tmp);
  // Listening on every address, reached over loopback only.
  const guarded = startRegentProcess(["server", "start", "--db", db, "--port", "0", "--host", "0.0.0.0"]);
  const api = (await guarded.waitFor(/API\s+(http:\/\/127\.0\.0\.1:\d+)\/graphql/))[1]!;
  await guarded.waitFor(/auth\s+API keys required/);
  const res = await fetch(`${api}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ project { id } }" }),
  });
  expect(res.status).toBe(401);
  await guarded.stop();

  const open = startRegentProcess([
    "server",
    "start",
    "--db",
    db,
    "--port",
    "0",
    "--host",
    "0.0.0.0",
    "--insecure-no-auth",
  ]);
  await open.waitFor(/auth\s+NONE \(--insecure-no-auth\): anyone who can reach 0\.0\.0\.0:\d+ can run code/);
}, 60_000);

test("bad input to regent auth and its settings gets a clear error and changes nothing", async ({
  cli,
  tmp,
}) => {
  const db = join(tmp, "keys.db");
  const config = join(tmp, "config.toml");
  const notKey = await cli([
    "--config",
    config,
    "--api",
    "http://127.0.0.1:9",
    "auth",
    "login",
    "--key",
    "hello",
  ]);
  expect(notKey.code).not.toBe(0);
  expect(notKey.stderr).toMatch(/not a Regent API key \(they start with rgt_\)/);
  const badExpiry = await cli([
    "auth",
    "create-key",
    "--name",
    "x",
    "--scope",
    "user",
    "--expires",
    "soon",
    "--db",
    db,
  ]);
  expect(badExpiry.code).not.toBe(0);
  expect(badExpiry.stderr).toMatch(/--expires/);
  const badScope = await cli(["auth", "create-key", "--name", "x", "--scope", "root", "--db", db]);
  expect(badScope.stderr).toMatch(/scope is admin, user or runner, not "root"/);
  const badAuth = await cli(["server", "start", "--db", db, "--port", "0"], {
    env: { REGENT__SERVER__AUTH: "sometimes" },
  });
  expect(badAuth.code).not.toBe(0);
  expect(badAuth.stderr).toMatch(/server\.auth \(from env REGENT__SERVER__AUTH\)/);
  const badLimit = await cli(["server", "start", "--db", db, "--port", "0"], {
    env: { REGENT__SERVER__RATE_LIMIT: "-1" },
  });
  expect(badLimit.stderr).toMatch(/server\.rate_limit/);
  expect(existsSync(config)).toBe(false);
  const listed = await cli(["auth", "list-keys", "--db", db]);
  expect(listed.stdout).toMatch(/no API keys/);
}, 60_000);
