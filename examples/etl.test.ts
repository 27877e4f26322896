import { regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import etl from "./etl.js";

const file = new URL("./etl.ts", import.meta.url).pathname;

describe("examples/etl.ts", () => {
  test("extracts, maps the transform over every row and loads after one retry", async () => {
    const run = await etl.run({ rows: 4 });
    expect(run.state.type).toBe("Success");
    expect(run.result).toBe((10 + 20 + 30 + 40) * 1.2);
    const transform = run.taskRuns.filter((t) => t.info.taskName === "transform");
    // one Mapped parent and one child per row, each with its map index
    expect(transform.map((t) => t.info.mapIndex).sort()).toEqual([-1, 0, 1, 2, 3]);
    const load = run.taskRuns.find((t) => t.info.taskName === "load")!;
    expect(load.states.map((s) => s.type)).toEqual(["Pending", "Running", "Retrying", "Running", "Success"]);
    // load waited for the mapped transform: an edge from the mapped parent
    const parent = transform.find((t) => t.info.mapIndex === -1)!;
    expect(load.info.upstream).toEqual([parent.info.id]);
  });

  test("runs from the CLI with the retry visible", async ({ cli }) => {
    const r = await cli(["run", file, "--param", "rows=3"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/transform: 3 mapped runs → 3 Success/);
    expect(r.stdout).toMatch(/load Retrying attempt 1 of 4 failed: warehouse connection reset/);
    expect(r.stdout).toMatch(/finished Success/);
  });

  test("refuses a parameter of the wrong type before anything runs", async ({ cli }) => {
    const r = await cli(["run", file, "--param", "rows=lots"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/INVALID_PARAMETERS/);
    expect(r.stderr).toMatch(/rows: .*expected number/);
    expect(r.stdout).not.toMatch(/extract/);
  });
});
