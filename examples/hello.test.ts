import { regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import hello from "./hello.js";

const file = new URL("./hello.ts", import.meta.url).pathname;

describe("examples/hello.ts", () => {
  test("runs in-process with a typed parameter and logs the greeting", async () => {
    const run = await hello.run({ name: "Ada" });
    expect(run.state.type).toBe("Success");
    expect(run.result).toEqual({ greeted: "Ada", length: 3 });
    expect(run.taskRuns.map((t) => t.states.map((s) => s.type))).toEqual([["Pending", "Running", "Success"]]);
  });

  test("`regent run examples/hello.ts --param name=Ada` prints the greeting and a final Success", async ({
    cli,
  }) => {
    const r = await cli(["run", file, "--param", "name=Ada"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/say-hello │ INFO {2}Hello, Ada!/);
    expect(r.stdout).toMatch(/finished Success/);
    expect(r.code).toBe(0);
  });

  test("uses the parameter's default when none is given", async ({ cli }) => {
    const r = await cli(["run", file, "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ flow: "hello", state: "Success", parameters: { name: "world" } });
    expect(r.stderr).toContain("Hello, world!");
  });
});
