import { describe, expect, test } from "vitest";
import { issuesByField, paramFields, parseParams } from "./param-form.js";

// The schemas are what zod writes for `flow({ params })` (z.toJSONSchema), as the server stores them.
const SCHEMA = {
  type: "object",
  properties: {
    name: { type: "string", default: "world" },
    rows: { type: "integer", minimum: 1, maximum: 10_000, default: 5 },
    ratio: { type: "number" },
    dryRun: { type: "boolean", default: false },
    region: { type: "string", enum: ["eu", "us"] },
    limits: { type: "array", items: { type: "integer" }, default: [1, 2] },
    note: { anyOf: [{ type: "string" }, { type: "null" }] },
  },
  required: ["name", "rows", "ratio", "region"],
};

describe("paramFields", () => {
  test("one field per property, typed from the schema, required only when it has no default", () => {
    expect(paramFields(SCHEMA).map((f) => [f.name, f.kind, f.required, f.initial])).toEqual([
      ["name", "string", false, "world"],
      ["rows", "integer", false, "5"],
      ["ratio", "number", true, ""],
      ["dryRun", "boolean", false, "false"],
      ["region", "enum", true, ""],
      ["limits", "json", false, "[\n  1,\n  2\n]"],
      ["note", "string", false, ""],
    ]);
  });

  test.for([
    { name: "no schema", schema: undefined },
    { name: "no properties", schema: { type: "object" } },
  ])("a flow without parameters has no fields ($name)", ({ schema }) => {
    expect(paramFields(schema)).toEqual([]);
  });
});

describe("parseParams", () => {
  const fields = paramFields(SCHEMA);
  const valid = { ratio: "0.5", region: "us" };
  const cases: { name: string; texts: Record<string, string>; values?: object; errors?: object }[] = [
    {
      name: "defaults are sent as shown; empty optional fields are left out",
      texts: valid,
      values: { name: "world", rows: 5, ratio: 0.5, dryRun: false, region: "us", limits: [1, 2] },
    },
    { name: "a required field left empty", texts: { region: "us" }, errors: { ratio: "required" } },
    { name: "not a number", texts: { ...valid, ratio: "abc" }, errors: { ratio: "must be a number" } },
    {
      name: "not a whole number",
      texts: { ...valid, rows: "2.5" },
      errors: { rows: "must be a whole number" },
    },
    { name: "under the minimum", texts: { ...valid, rows: "0" }, errors: { rows: "must be at least 1" } },
    {
      name: "over the maximum",
      texts: { ...valid, rows: "10001" },
      errors: { rows: "must be at most 10000" },
    },
    {
      name: "not one of the enum",
      texts: { ...valid, region: "mars" },
      errors: { region: "must be one of eu, us" },
    },
    {
      name: "JSON that does not parse",
      texts: { ...valid, limits: "[1," },
      errors: { limits: expect.stringMatching(/^not valid JSON: /) },
    },
    {
      name: "a boolean ticked and a string kept as typed (spaces too)",
      texts: { ...valid, dryRun: "true", name: " Ada " },
      values: { name: " Ada ", rows: 5, ratio: 0.5, dryRun: true, region: "us", limits: [1, 2] },
    },
  ];
  test.for(cases)("$name", ({ texts, values, errors }) => {
    const parsed = parseParams(fields, texts);
    expect(parsed.errors).toEqual(errors ?? {});
    if (values) expect(parsed.values).toEqual(values);
  });
});

test("issuesByField puts the server's parameter issues on their top-level fields", () => {
  expect(
    issuesByField({
      issues: [
        { path: "rows", message: "must be >= 1" },
        { path: "limits.0", message: "must be integer" },
        { path: "limits.1", message: "must be integer" },
        { path: "", message: "must not have additional property x" },
      ],
    }),
  ).toEqual({
    rows: "must be >= 1",
    limits: "must be integer; must be integer",
    "": "must not have additional property x",
  });
});
