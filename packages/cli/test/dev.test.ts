import { join } from "node:path";
import { startRegentProcess, stopRegentProcesses, regentTest as test } from "@regent/testkit";
import { afterEach, expect } from "vitest";

afterEach(stopRegentProcesses);

const examples = new URL("../../../examples", import.meta.url).pathname;

test("`regent dev` (npm start) serves, registers the examples into demo and runs them with its agent", async ({
  cli,
  tmp,
}) => {
  const dev = startRegentProcess(["dev", examples, "--db", join(tmp, "regent.db"), "--port", "0"], {
    HOME: tmp,
  });
  const api = (await dev.waitFor(/API\s+(http:\/\/127\.0\.0\.1:\d+)\/graphql/, 60_000))[1]!;
  await dev.waitFor(
    /Start a run from another shell:\n\s+npx regent run --name hello --project demo --param name=Ada --watch/,
  );
  expect(dev.output()).toMatch(/registered hello v1/);
  const r = await cli([
    "run",
    "--name",
    "hello",
    "--project",
    "demo",
    "--param",
    "name=Ada",
    "--watch",
    "--api",
    api,
  ]);
  expect(r.stdout).toMatch(/Hello, Ada!/);
  expect(r.stdout).toMatch(/finished Success/);
  expect(r.code).toBe(0);
  expect(await dev.stop("SIGTERM")).toBe(0);
}, 90_000);

test("`regent execute flow-run` without a run to execute says what it needs", async ({ cli }) => {
  const r = await cli(["execute", "flow-run"], { env: { REGENT__FLOW_RUN_ID: undefined } });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/needs REGENT__FLOW_RUN_ID in its environment/);
});

test("a pre-started `regent execute flow-run --stdin` exits 0 when its input ends without a run", async ({
  cli,
}) => {
  // No server at that address: a pre-started executor waits for its run all the same.
  const r = await cli(["execute", "flow-run", "--stdin", "--api", "http://127.0.0.1:9"], { input: "" });
  expect(r).toMatchObject({ code: 0, stderr: "" });
});

test("`regent execute flow-run --stdin` refuses a first line that is not an assignment, saying what it wants", async ({
  cli,
}) => {
  const r = await cli(["execute", "flow-run", "--stdin", "--api", "http://127.0.0.1:9"], {
    input: '{"run": "x"}\n',
  });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/expected a JSON assignment \{"flow_run_id": …\}/);
  const preload = await cli(["execute", "flow-run", "--preload", "f"]);
  expect(preload.code).toBe(2);
  expect(preload.stderr).toMatch(/--preload goes with --stdin/);
});
