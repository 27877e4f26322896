import { describe, expect, test } from "vitest";
import { buildSchematic, type SchematicTaskRun } from "./schematic-model.js";

const run = (id: string, state: string, upstream: string[] = [], extra: Partial<SchematicTaskRun> = {}) => ({
  id,
  task_key: id.replace(/\[.*/, ""),
  task_name: id.replace(/\[.*/, ""),
  state,
  map_index: -1,
  parent_task_run_id: null,
  upstream,
  ...extra,
});

describe("buildSchematic", () => {
  test("a chain: one node per task run, one edge per upstream link", () => {
    const s = buildSchematic([
      run("extract", "Success"),
      run("transform", "Running", ["extract"]),
      run("load", "Pending", ["transform"]),
    ]);
    expect(s.grouped).toBe(false);
    expect(s.nodes.map((n) => [n.id, n.state])).toEqual([
      ["extract", "Success"],
      ["transform", "Running"],
      ["load", "Pending"],
    ]);
    expect(s.edges.map((e) => e.id)).toEqual(["extract->transform", "transform->load"]);
  });

  test("a mapped task is one node coloured by its children, whose links are drawn from and to it", () => {
    const child = (i: number, state: string) =>
      run(`square[${i}]`, state, ["numbers"], { map_index: i, parent_task_run_id: "square" });
    const s = buildSchematic([
      run("numbers", "Success"),
      run("square", "Mapped", ["numbers"]),
      child(0, "Success"),
      child(1, "Failed"),
      child(2, "Running"),
      run("total", "Pending", ["square[0]", "square[1]", "square[2]"]),
    ]);
    expect(s.nodes.map((n) => [n.id, n.state, n.counts])).toEqual([
      ["numbers", "Success", undefined],
      ["square", "Failed", { Success: 1, Failed: 1, Running: 1 }],
      ["total", "Pending", undefined],
    ]);
    expect(s.edges.map((e) => e.id)).toEqual(["numbers->square", "square->total"]);
  });

  test("wider than the limit: one node per task, its runs counted by state", () => {
    const many = Array.from({ length: 5 }, (_, i) =>
      run(`step[${i}]`, i < 3 ? "Success" : "Running", [], { task_key: "step", task_name: "step" }),
    );
    const s = buildSchematic(
      [
        ...many,
        run(
          "report",
          "Pending",
          many.map((m) => m.id),
        ),
      ],
      4,
    );
    expect(s.grouped).toBe(true);
    expect(s.nodes.map((n) => [n.id, n.state, n.counts])).toEqual([
      ["task:step", "Running", { Success: 3, Running: 2 }],
      ["task:report", "Pending", { Pending: 1 }],
    ]);
    expect(s.edges.map((e) => e.id)).toEqual(["task:step->task:report"]);
  });

  test("links to task runs not in the list (another execution's) are left out", () => {
    expect(buildSchematic([run("a", "Success", ["gone"])]).edges).toEqual([]);
  });
});
