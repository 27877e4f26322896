import type { StandardJSONSchemaV1, StandardSchemaV1 } from "@standard-schema/spec";
import { InvalidParametersError, type ParameterIssue } from "./errors.js";

/** Any Standard Schema validator (zod, valibot, arktype, …) whose output is the flow's parameters. */
export type ParamsSchema<Output = unknown> = StandardSchemaV1<unknown, Output>;

export type JsonSchema = Record<string, unknown>;

/**
 * The JSON Schema of a validator's input, when the library can produce one (Standard JSON Schema, as
 * zod ≥ 4.2 does). Undefined when it cannot: parameters are then checked by the validator alone.
 */
export function paramsJsonSchema(schema: ParamsSchema | undefined): JsonSchema | undefined {
  const std = (schema as Partial<StandardJSONSchemaV1> | undefined)?.["~standard"];
  const convert = (std as Partial<StandardJSONSchemaV1.Props> | undefined)?.jsonSchema?.input;
  if (!convert) return undefined;
  try {
    return convert({ target: "draft-2020-12" });
  } catch {
    return undefined;
  }
}

const pathOf = (issue: StandardSchemaV1.Issue): string =>
  (issue.path ?? [])
    .map((p) => String(typeof p === "object" && p !== null && "key" in p ? p.key : p))
    .join(".");

/** Parameters the schema does not declare (only when it declares its properties and forbids others). */
export function unknownParameters(
  jsonSchema: JsonSchema | undefined,
  input: Record<string, unknown>,
): string[] {
  const props = jsonSchema?.properties;
  if (!props || typeof props !== "object") return [];
  const extra = jsonSchema.additionalProperties;
  if (extra === true || (typeof extra === "object" && extra !== null)) return [];
  return Object.keys(input).filter((k) => !(k in props));
}

/**
 * Validates parameters and applies the schema's defaults. Every issue is reported at once (unknown
 * parameters first), as an `InvalidParametersError`.
 */
export async function validateParams<Output>(
  schema: ParamsSchema<Output> | undefined,
  input: Record<string, unknown>,
  options: { flowName?: string; jsonSchema?: JsonSchema | undefined } = {},
): Promise<Output> {
  if (!schema) {
    const keys = Object.keys(input);
    if (keys.length > 0) {
      throw new InvalidParametersError(
        keys.map((k) => ({ path: k, message: "unknown parameter: this flow takes no parameters" })),
        options.flowName,
      );
    }
    return input as Output;
  }
  const jsonSchema = "jsonSchema" in options ? options.jsonSchema : paramsJsonSchema(schema);
  const issues: ParameterIssue[] = [];
  const known = Object.keys((jsonSchema?.properties as object | undefined) ?? {});
  for (const key of unknownParameters(jsonSchema, input)) {
    issues.push({ path: key, message: `unknown parameter (known: ${known.join(", ") || "none"})` });
  }
  const result = await schema["~standard"].validate(input);
  if (result.issues) for (const i of result.issues) issues.push({ path: pathOf(i), message: i.message });
  if (issues.length > 0 || result.issues) throw new InvalidParametersError(issues, options.flowName);
  return (result as StandardSchemaV1.SuccessResult<Output>).value;
}

/**
 * Reads a parameter given as text on a command line by the parameter's JSON Schema type: a string
 * parameter takes the text verbatim (a nullable one too, except `null`); numbers, booleans, arrays and
 * objects are parsed as JSON. Text that is not JSON stays a string, so the validator reports the type
 * mismatch.
 */
export function readParamText(text: string, propertySchema: JsonSchema | undefined): unknown {
  if (propertySchema && acceptsOnlyStrings(propertySchema, text !== "null")) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** With `orNull`, a schema that also accepts `null` (zod's `.nullable()`) counts as string-only. */
function acceptsOnlyStrings(s: JsonSchema, orNull = false): boolean {
  const stringType = (t: unknown) => t === "string" || (orNull && t === "null");
  if (s.type === "string") return true;
  if (Array.isArray(s.type)) return s.type.length > 0 && s.type.every(stringType);
  if (Array.isArray(s.enum)) return s.enum.every((v) => typeof v === "string" || (orNull && v === null));
  if (typeof s.const === "string") return true;
  if (orNull && s.type === "null") return true;
  const union = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  return Array.isArray(union) && union.length > 0 && union.every((u) => acceptsOnlyStrings(u, orNull));
}
