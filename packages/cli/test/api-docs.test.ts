import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { migrateToLatest, openDatabase, startServer } from "@regent/server";
import { regentTest as test } from "@regent/testkit";
import { expect } from "vitest";

test("the curl walkthrough in docs/api.md works as written", async ({ tmp }) => {
  const doc = readFileSync(new URL("../../../docs/api.md", import.meta.url), "utf8");
  const block = /<!-- api-walkthrough -->\n```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(block).toBeTruthy();
  const database = await openDatabase(join(tmp, "regent.db"));
  await migrateToLatest(database);
  const server = await startServer({ database, port: 0 });
  let out = "";
  let err = "";
  let code: number | null;
  try {
    // Asynchronous on purpose: the server answers from this same process.
    const child = spawn("bash", ["-euo", "pipefail", "-c", block!], {
      env: { ...process.env, API: server.url },
    });
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  } finally {
    await server.close();
    await database.close();
  }
  expect(err).toBe("");
  expect(code).toBe(0);
  expect(out).not.toMatch(/"errors"/);
  expect(out).toMatch(
    /"flow_run_by_pk":\{"name":"hello-[0-9a-f]{8}","state":"Scheduled","parameters":\{"name":"Ada"\},"labels":\["prod"\],"version":1\}/,
  );
  expect(out).toMatch(/"aggregate":\{"count":1\}/);
  expect(out).toMatch(/"status":"ok"/);
});
