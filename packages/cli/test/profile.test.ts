import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { regentTest as test } from "@regent/testkit";
import { expect } from "vitest";
import { startServer, useServerDatabases } from "./helpers.js";

const dbFor = useServerDatabases();

test("profiles: several servers in one config file, one in use; --profile and REGENT__PROFILE pick another", async ({
  cli,
  tmp,
}) => {
  const file = join(tmp, "config.toml");
  const regent = (args: string[], env: Record<string, string> = {}) =>
    cli(["--config", file, ...args], { env });
  expect((await regent(["profile", "list"])).stdout).toMatch(
    /no profiles: make one with regent profile create/,
  );

  const db = await dbFor("sqlite", tmp);
  const api = await startServer(db);
  expect((await regent(["profile", "create", "dev", "--api", api, "--use"])).stdout).toMatch(
    /created profile dev \(http:\/\/127\.0\.0\.1:\d+\), in use/,
  );
  // Nothing listens on port 9: a profile whose server is unreachable shows which one was used.
  const key = `rgt_${"k".repeat(43)}`;
  expect((await regent(["profile", "create", "far", "--api", "http://127.0.0.1:9", "--key", key])).code).toBe(
    0,
  );
  expect(statSync(file).mode & 0o777).toBe(0o600);

  const list = await regent(["profile", "list"]);
  expect(list.stdout).toMatch(/^\*\s+dev\s+http:\/\/127\.0\.0\.1:\d+\s+none$/m);
  expect(list.stdout).toMatch(/^\s+far\s+http:\/\/127\.0\.0\.1:9\s+rgt_kkkkkk…$/m);
  expect(list.stdout).not.toContain(key);

  // The profile in use supplies the API: no --api needed.
  const whoami = await regent(["auth", "whoami"]);
  expect(whoami.stdout).toContain(`no key: ${api} does not require one`);
  const viaFlag = await regent(["--profile", "far", "auth", "whoami"]);
  expect(viaFlag.code).not.toBe(0);
  expect(viaFlag.stderr).toMatch(/cannot reach the Regent server at http:\/\/127\.0\.0\.1:9\/graphql/);
  const viaEnv = await regent(["auth", "whoami"], { REGENT__PROFILE: "far" });
  expect(viaEnv.stderr).toMatch(/127\.0\.0\.1:9/);
  const unknown = await regent(["--profile", "nope", "auth", "whoami"]);
  expect(unknown.stderr).toMatch(/no profile "nope" in .*config\.toml \(profiles: dev, far\)/);

  // Logging in while a profile is in use saves the key in that profile.
  const made = await cli(["auth", "create-key", "--name", "me", "--scope", "user", "--json", "--db", db]);
  const userKey = JSON.parse(made.stdout).key as string;
  const login = await regent(["auth", "login", "--key", userKey]);
  expect(login.stdout).toMatch(/saved in .* \(profile dev\)/);
  expect((await regent(["auth", "whoami"])).stdout).toMatch(/key "me" \(scope user\)/);
  expect(readFileSync(file, "utf8")).toMatch(/\[profiles\.dev\][^[]*api_key = "rgt_/);

  expect((await regent(["profile", "use", "gone"])).stderr).toMatch(/no profile "gone"/);
  expect((await regent(["profile", "delete", "dev"])).stdout).toMatch(/deleted profile dev/);
  expect((await regent(["profile", "list"])).stdout).not.toMatch(/dev/);
  expect((await regent(["profile", "create", "bad name", "--api", api])).stderr).toMatch(/letters, digits/);
  expect((await regent(["profile", "create", "x", "--api", "not a url"])).stderr).toMatch(/must be a URL/);
}, 60_000);
