import type { ParameterIssue } from "@regent/core";
import { Ajv2020 } from "ajv/dist/2020.js";

const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();
const byText = new Map<string, ReturnType<typeof ajv.compile>>();

/**
 * Checks parameters against a flow version's JSON Schema (derived at register) and fills in its
 * defaults in place. Unknown parameters are issues when the schema lists its properties.
 */
export function validateAgainstJsonSchema(
  schema: unknown,
  params: Record<string, unknown>,
): ParameterIssue[] {
  if (!schema || typeof schema !== "object") return [];
  const text = JSON.stringify(schema);
  let validate = compiled.get(schema as object) ?? byText.get(text);
  if (!validate) {
    validate = ajv.compile(stripDialect(schema as Record<string, unknown>));
    compiled.set(schema as object, validate);
    byText.set(text, validate);
  }
  const issues: ParameterIssue[] = [];
  const props = (schema as { properties?: Record<string, unknown>; additionalProperties?: unknown })
    .properties;
  const extra = (schema as { additionalProperties?: unknown }).additionalProperties;
  if (props && extra !== true && (typeof extra !== "object" || extra === null)) {
    for (const key of Object.keys(params)) {
      if (!(key in props))
        issues.push({
          path: key,
          message: `unknown parameter (known: ${Object.keys(props).join(", ") || "none"})`,
        });
    }
  }
  if (!validate(params)) {
    for (const e of validate.errors ?? []) {
      const path = e.instancePath.replace(/^\//, "").replaceAll("/", ".");
      const where =
        e.keyword === "required" ? (e.params as { missingProperty: string }).missingProperty : path;
      if (e.keyword === "additionalProperties") continue;
      issues.push({ path: where, message: e.message ?? "invalid" });
    }
  }
  return issues;
}

/** Ajv's 2020 build validates any draft's keywords we use; the `$schema` line would make it look for a meta-schema. */
function stripDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}
