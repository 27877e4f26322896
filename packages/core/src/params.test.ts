import type { StandardSchemaV1 } from "@standard-schema/spec";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { InvalidParametersError, type ParameterIssue } from "./errors.js";
import {
  type JsonSchema,
  type ParamsSchema,
  paramsJsonSchema,
  readParamText,
  unknownParameters,
  validateParams,
} from "./params.js";

/** The rejection of `validateParams`, checked to be an `InvalidParametersError`. */
async function invalid(promise: Promise<unknown>): Promise<InvalidParametersError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidParametersError);
  const e = error as InvalidParametersError;
  expect(e.code).toBe("INVALID_PARAMETERS");
  expect(e.details).toEqual({ issues: e.issues });
  return e;
}

const paths = (issues: readonly ParameterIssue[]): string[] => issues.map((i) => i.path);

/** A Standard Schema validator that cannot produce a JSON Schema (as valibot or arktype without an adapter). */
const plainValidator = (
  check: (v: Record<string, unknown>) => readonly StandardSchemaV1.Issue[],
): ParamsSchema => ({
  "~standard": {
    version: 1,
    vendor: "test",
    validate: (value) => {
      const issues = check(value as Record<string, unknown>);
      return issues.length > 0 ? { issues } : { value };
    },
  },
});

describe("validateParams", () => {
  const Schema = z.object({
    name: z.string(),
    count: z.number().int().default(3),
    dryRun: z.boolean().default(false),
    tags: z.array(z.string()).optional(),
  });

  test("returns the parsed value with defaults applied", async () => {
    await expect(validateParams(Schema, { name: "x" })).resolves.toEqual({
      name: "x",
      count: 3,
      dryRun: false,
    });
  });

  test("keeps given values over defaults", async () => {
    await expect(validateParams(Schema, { name: "x", count: 7, dryRun: true, tags: ["a"] })).resolves.toEqual(
      {
        name: "x",
        count: 7,
        dryRun: true,
        tags: ["a"],
      },
    );
  });

  test("reports every type issue at once, with its path", async () => {
    const e = await invalid(validateParams(Schema, { name: 1, count: "3", dryRun: "yes", tags: ["a", 2] }));
    expect(paths(e.issues).sort()).toEqual(["count", "dryRun", "name", "tags.1"]);
    for (const i of e.issues) expect(i.message).not.toBe("");
  });

  test("reports a missing required parameter", async () => {
    const e = await invalid(validateParams(Schema, {}));
    expect(paths(e.issues)).toEqual(["name"]);
  });

  test("uses dotted paths into nested objects and arrays", async () => {
    const Nested = z.object({
      rows: z.array(z.object({ id: z.number() })),
      db: z.object({ port: z.number() }),
    });
    const e = await invalid(validateParams(Nested, { rows: [{ id: 1 }, { id: "x" }], db: { port: "5432" } }));
    expect(paths(e.issues).sort()).toEqual(["db.port", "rows.1.id"]);
  });

  test("reports an unknown parameter, naming the known ones", async () => {
    const e = await invalid(validateParams(Schema, { name: "x", nmae: "y" }));
    expect(e.issues).toEqual([
      { path: "nmae", message: "unknown parameter (known: name, count, dryRun, tags)" },
    ]);
  });

  test("reports unknown parameters first, alongside type issues, all at once", async () => {
    const e = await invalid(validateParams(Schema, { name: 1, count: "x", extra: 1, other: 2 }));
    expect(paths(e.issues)).toEqual(["extra", "other", "name", "count"]);
  });

  test("z.looseObject allows and keeps extra parameters", async () => {
    const Loose = z.looseObject({ name: z.string() });
    await expect(validateParams(Loose, { name: "x", extra: 1 })).resolves.toEqual({ name: "x", extra: 1 });
  });

  test("z.strictObject reports an extra parameter", async () => {
    const e = await invalid(validateParams(z.strictObject({ name: z.string() }), { name: "x", extra: 1 }));
    expect(paths(e.issues)).toContain("extra");
  });

  test("an empty object schema names no known parameters", async () => {
    const e = await invalid(validateParams(z.object({}), { a: 1 }));
    expect(e.issues).toEqual([{ path: "a", message: "unknown parameter (known: none)" }]);
  });

  test("no schema and no parameters passes the input through", async () => {
    await expect(validateParams(undefined, {})).resolves.toEqual({});
  });

  test("no schema but parameters given: every one is reported", async () => {
    const e = await invalid(validateParams(undefined, { a: 1, b: 2 }, { flowName: "etl" }));
    expect(paths(e.issues)).toEqual(["a", "b"]);
    expect(e.issues[0]?.message).toContain("this flow takes no parameters");
    expect(e.message).toContain('for flow "etl"');
  });

  test("the error message lists every issue and the flow's name", async () => {
    const e = await invalid(validateParams(Schema, { name: 1, extra: 1 }, { flowName: "etl" }));
    expect(e.message).toMatch(/^invalid parameters for flow "etl":\n/);
    expect(e.message).toContain("  - extra: unknown parameter");
    expect(e.message).toContain("  - name: ");
  });

  test("an explicit jsonSchema of undefined skips the unknown-parameter check", async () => {
    await expect(validateParams(Schema, { name: "x", extra: 1 }, { jsonSchema: undefined })).resolves.toEqual(
      {
        name: "x",
        count: 3,
        dryRun: false,
      },
    );
  });

  test("an explicit jsonSchema is used instead of the validator's", async () => {
    const jsonSchema = { type: "object", properties: { name: {} }, additionalProperties: false };
    const e = await invalid(validateParams(Schema, { name: "x", count: 1, dryRun: true }, { jsonSchema }));
    expect(paths(e.issues)).toEqual(["count", "dryRun"]);
  });

  test("a validator without JSON Schema is checked by the validator alone", async () => {
    const schema = plainValidator((v) =>
      typeof v.n === "number" ? [] : [{ message: "n must be a number", path: ["n"] }],
    );
    await expect(validateParams(schema, { n: 1, extra: true })).resolves.toEqual({ n: 1, extra: true });
    const e = await invalid(validateParams(schema, { n: "1" }));
    expect(e.issues).toEqual([{ path: "n", message: "n must be a number" }]);
  });

  test("path segments given as { key } objects are joined too", async () => {
    const schema = plainValidator(() => [{ message: "bad", path: [{ key: "rows" }, { key: 0 }, "id"] }]);
    const e = await invalid(validateParams(schema, {}));
    expect(e.issues).toEqual([{ path: "rows.0.id", message: "bad" }]);
  });

  test("an issue without a path is about the whole object", async () => {
    const schema = plainValidator(() => [{ message: "bad" }]);
    const e = await invalid(validateParams(schema, {}));
    expect(e.issues).toEqual([{ path: "", message: "bad" }]);
    expect(e.message).toContain("  - (parameters): bad");
  });

  test("a refinement over the whole object is reported", async () => {
    const Range = z
      .object({ from: z.number(), to: z.number() })
      .refine((v) => v.from <= v.to, "from must not exceed to");
    const e = await invalid(validateParams(Range, { from: 2, to: 1 }));
    expect(e.issues).toEqual([{ path: "", message: "from must not exceed to" }]);
  });
});

describe("paramsJsonSchema", () => {
  test("returns the properties of a zod object, with defaults, as its input", () => {
    const js = paramsJsonSchema(
      z.object({ name: z.string(), count: z.number().default(3), tags: z.array(z.string()) }),
    );
    expect(js?.type).toBe("object");
    expect(js?.properties).toEqual({
      name: { type: "string" },
      count: { type: "number", default: 3 },
      tags: { type: "array", items: { type: "string" } },
    });
    // A parameter with a default is optional on input.
    expect(js?.required).toEqual(["name", "tags"]);
  });

  test("a loose object allows additional properties", () => {
    expect(paramsJsonSchema(z.looseObject({ a: z.string() }))?.additionalProperties).toEqual({});
  });

  test("a strict object forbids additional properties", () => {
    expect(paramsJsonSchema(z.strictObject({ a: z.string() }))?.additionalProperties).toBe(false);
  });

  test("undefined without a schema", () => {
    expect(paramsJsonSchema(undefined)).toBeUndefined();
  });

  test("undefined for a validator that cannot produce JSON Schema", () => {
    expect(paramsJsonSchema(plainValidator(() => []))).toBeUndefined();
  });

  test("undefined when the conversion throws", () => {
    const schema = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (value: unknown) => ({ value }),
        jsonSchema: {
          input: () => {
            throw new Error("cannot convert");
          },
          output: () => ({}),
        },
      },
    } as ParamsSchema;
    expect(paramsJsonSchema(schema)).toBeUndefined();
  });
});

describe("unknownParameters", () => {
  test.for([
    { name: "no JSON Schema", schema: undefined, input: { a: 1 }, want: [] },
    { name: "no properties", schema: { type: "object" }, input: { a: 1 }, want: [] },
    {
      name: "additionalProperties absent",
      schema: { properties: { a: {} } },
      input: { a: 1, b: 2 },
      want: ["b"],
    },
    {
      name: "additionalProperties false",
      schema: { properties: { a: {} }, additionalProperties: false },
      input: { b: 2, c: 3 },
      want: ["b", "c"],
    },
    {
      name: "additionalProperties true",
      schema: { properties: { a: {} }, additionalProperties: true },
      input: { b: 2 },
      want: [],
    },
    {
      name: "additionalProperties a schema",
      schema: { properties: { a: {} }, additionalProperties: { type: "string" } },
      input: { b: "x" },
      want: [],
    },
    { name: "all known", schema: { properties: { a: {}, b: {} } }, input: { a: 1, b: 2 }, want: [] },
  ])("$name → $want", ({ schema, input, want }) => {
    expect(unknownParameters(schema as JsonSchema | undefined, input)).toEqual(want);
  });
});

describe("readParamText", () => {
  const props = paramsJsonSchema(
    z.object({
      str: z.string(),
      strDefault: z.string().default("x"),
      num: z.number(),
      int: z.number().int(),
      bool: z.boolean(),
      arr: z.array(z.number()),
      obj: z.object({ a: z.number() }),
      color: z.enum(["1", "red", "true"]),
      literal: z.literal("null"),
      literals: z.union([z.literal("1"), z.literal("2")]),
      strOrNum: z.union([z.string(), z.number()]),
      nullableStr: z.string().nullable(),
      nullishStr: z.string().nullish(),
      nullableEnum: z.enum(["1", "red"]).nullable(),
    }),
  )?.properties as Record<string, JsonSchema>;

  test.for([
    { param: "str", text: "123", want: "123" },
    { param: "str", text: "true", want: "true" },
    { param: "str", text: "null", want: "null" },
    { param: "str", text: '{"a":1}', want: '{"a":1}' },
    { param: "str", text: '"quoted"', want: '"quoted"' },
    { param: "str", text: "", want: "" },
    { param: "strDefault", text: "42", want: "42" },
    { param: "num", text: "123", want: 123 },
    { param: "num", text: "-1.5", want: -1.5 },
    { param: "num", text: "1e3", want: 1000 },
    { param: "num", text: "abc", want: "abc" },
    { param: "num", text: "12abc", want: "12abc" },
    { param: "int", text: "7", want: 7 },
    { param: "bool", text: "true", want: true },
    { param: "bool", text: "false", want: false },
    { param: "bool", text: "yes", want: "yes" },
    { param: "arr", text: "[1,2,3]", want: [1, 2, 3] },
    { param: "arr", text: "[1,2", want: "[1,2" },
    { param: "obj", text: '{"a":1}', want: { a: 1 } },
    { param: "obj", text: "{a:1}", want: "{a:1}" },
    { param: "color", text: "1", want: "1" },
    { param: "color", text: "true", want: "true" },
    { param: "color", text: "red", want: "red" },
    { param: "literal", text: "null", want: "null" },
    { param: "literals", text: "1", want: "1" },
    { param: "strOrNum", text: "1", want: 1 },
    { param: "strOrNum", text: "a", want: "a" },
    { param: "nullableStr", text: "123", want: "123" },
    { param: "nullableStr", text: "true", want: "true" },
    { param: "nullableStr", text: "[1]", want: "[1]" },
    { param: "nullableStr", text: "null", want: null },
    { param: "nullishStr", text: "123", want: "123" },
    { param: "nullishStr", text: "null", want: null },
    { param: "nullableEnum", text: "1", want: "1" },
    { param: "nullableEnum", text: "null", want: null },
  ])("$param: $text → $want", ({ param, text, want }) => {
    expect(props[param]).toBeDefined();
    expect(readParamText(text, props[param])).toEqual(want);
  });

  test.for([
    { name: "type string", schema: { type: "string" } },
    { name: "enum of strings", schema: { enum: ["1", "2"] } },
    { name: "const string", schema: { const: "1" } },
    { name: "anyOf strings", schema: { anyOf: [{ type: "string" }, { const: "2" }] } },
    { name: "oneOf strings", schema: { oneOf: [{ enum: ["1"] }, { type: "string" }] } },
    { name: "type [string]", schema: { type: ["string"] } },
    { name: "type [string, null]", schema: { type: ["string", "null"] } },
    { name: "anyOf string and null", schema: { anyOf: [{ type: "string" }, { type: "null" }] } },
    { name: "enum of strings and null", schema: { enum: ["1", null] } },
  ])("JSON Schema $name: text is verbatim", ({ schema }) => {
    expect(readParamText("1", schema)).toBe("1");
  });

  test.for([
    { name: "enum with a number", schema: { enum: ["1", 2] } },
    { name: "anyOf with a number", schema: { anyOf: [{ type: "string" }, { type: "number" }] } },
    { name: "empty anyOf", schema: { anyOf: [] } },
    { name: "no type", schema: {} },
    { name: "type [string, number]", schema: { type: ["string", "number"] } },
    { name: "type [number, null]", schema: { type: ["number", "null"] } },
  ])("JSON Schema $name: text is parsed", ({ schema }) => {
    expect(readParamText("1", schema)).toBe(1);
  });

  test.for([
    { text: "123", want: 123 },
    { text: "true", want: true },
    { text: "null", want: null },
    { text: "[1]", want: [1] },
    { text: '{"a":"b"}', want: { a: "b" } },
    { text: '"x"', want: "x" },
    { text: "hello", want: "hello" },
    { text: "", want: "" },
  ])("no schema: $text → $want (JSON, else the text)", ({ text, want }) => {
    expect(readParamText(text, undefined)).toEqual(want);
  });
});
