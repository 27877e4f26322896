import { join } from "node:path";
import { graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import { expect } from "vitest";
import { startServerWithFlows, useServerDatabases } from "./helpers.js";

const dbFor = useServerDatabases();
const fixture = new URL("./fixtures/secrets/uses-secret.ts", import.meta.url).pathname;
const VALUE = "correct-horse-battery-staple";

// A secret set with the CLI, read by a run an agent launched (with its run token), and masked in the
// run's logs and in what the agent prints of the run's output; and the same flow run locally, reading
// the environment instead.
test("regent secret set/list/delete, and ctx.secret in a run masks the value wherever it is shown", async ({
  cli,
  tmp,
}) => {
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), fixture);
  const set = await cli(["secret", "set", "DB_PASSWORD", "--api", api], { input: `${VALUE}\n` });
  expect(set.code, set.stderr).toBe(0);
  expect(set.stdout).toMatch(/set secret DB_PASSWORD; flows read it with ctx.secret\("DB_PASSWORD"\)/);
  const listed = await cli(["secret", "list", "--api", api]);
  expect(listed.stdout).toMatch(/^DB_PASSWORD\s/m);
  expect(listed.stdout).not.toContain(VALUE);

  const agent = startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--api", api]);
  const run = await cli(["run", "--name", "uses-secret", "--project", "demo", "--watch", "--api", api]);
  expect(run.code, run.stdout + run.stderr).toBe(0);
  expect(run.stdout).toContain(`connecting with password *** (${VALUE.length} characters)`);
  expect(run.stdout + run.stderr).not.toContain(VALUE);
  const { log } = await graphqlData(api, `{ log { message } }`);
  expect(log.map((l: { message: string }) => l.message)).toEqual(
    expect.arrayContaining([`connecting with password *** (${VALUE.length} characters)`, "printed: ***"]),
  );
  expect(JSON.stringify(log)).not.toContain(VALUE);
  expect(agent.output()).not.toContain(VALUE);

  // Without a server, the flow reads the environment variable of that name, masked alike.
  const local = await cli(["run", fixture], { env: { DB_PASSWORD: "local-only-password" } });
  expect(local.code, local.stderr).toBe(0);
  expect(local.stdout + local.stderr).toContain("connecting with password *** (19 characters)");
  expect(local.stdout + local.stderr).not.toContain("local-only-password");

  const deleted = await cli(["secret", "delete", "DB_PASSWORD", "--api", api]);
  expect(deleted.stdout).toMatch(/deleted secret DB_PASSWORD/);
  const missing = await cli(["run", "--name", "uses-secret", "--project", "demo", "--watch", "--api", api]);
  expect(missing.code).not.toBe(0);
  expect(missing.stdout + missing.stderr).toMatch(
    /no secret "DB_PASSWORD" on this server: set it with `regent secret set DB_PASSWORD`/,
  );
}, 120_000);

test("regent secret set refuses a bad name and a missing file, saying what is wrong, and stores nothing", async ({
  cli,
  tmp,
}) => {
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), fixture);
  const badName = await cli(["secret", "set", "has space", "--api", api], { input: "v\n" });
  expect(badName.code).not.toBe(0);
  expect(badName.stderr).toMatch(/a secret's name is 1 to 200 letters/);
  const noFile = await cli(["secret", "set", "X", "--from-file", join(tmp, "missing"), "--api", api]);
  expect(noFile.code).toBe(2);
  expect(noFile.stderr).toMatch(/--from-file .*missing: ENOENT/);
  const listed = await cli(["secret", "list", "--json", "--api", api]);
  expect(JSON.parse(listed.stdout)).toEqual([]);
}, 60_000);
