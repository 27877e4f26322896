import type { ParameterIssue } from "@regent/core";
import type { Ajv2020 } from "ajv/dist/2020.js";

type Validate = ReturnType<Ajv2020["compile"]>;
const compiled = new WeakMap<object, Validate>();
const byText = new Map<string, Validate>();

/** Loaded and made on first use: Ajv and its compiled meta-schemas cost memory an idle server should not hold. */
let ajv: Ajv2020 | undefined;

/**
 * Checks parameters against a flow version's JSON Schema (derived at register) and fills in its
 * defaults in place. Unknown parameters are issues when the schema lists its properties.
 */
export async function validateAgainstJsonSchema(
  schema: unknown,
  params: Record<string, unknown>,
): Promise<ParameterIssue[]> {
  if (!schema || typeof schema !== "object") return [];
  const text = JSON.stringify(schema);
  let validate = compiled.get(schema as object) ?? byText.get(text);
  if (!validate) {
    if (!ajv) {
      const mod = await import("ajv/dist/2020.js");
      // The CommonJS module itself is the class: `default` in Node and in the CLI's esbuild bundle alike
      // (the bundle's dynamic import has no named `Ajv2020`).
      const Ajv = mod.default as unknown as typeof mod.Ajv2020;
      ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
    }
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
