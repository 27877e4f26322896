import { regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";

const file = new URL("./parallel.ts", import.meta.url).pathname;

describe("examples/parallel.ts", () => {
  test("maps CPU-bound work over the worker pool from the CLI", async ({ cli }) => {
    const r = await cli(["run", file, "--params-json", '{"limits": [1000, 5000, 20000]}', "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    // π(1000) = 168, π(5000) = 669, π(20000) = 2262
    expect(out.result).toEqual([168, 669, 2262]);
    expect(out.taskRuns.byState).toEqual({ Mapped: 1, Success: 3 });
  });
});
