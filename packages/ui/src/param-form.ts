/**
 * The quick-run form's model, from a flow's parameters JSON Schema (what `flow({ params })` registers):
 * one field per top-level property, typed from the schema, and the parsing of what a person typed
 * into parameter values with an error per field. Pure: the form component only renders it.
 */

export type FieldKind = "string" | "number" | "integer" | "boolean" | "enum" | "json";

export interface ParamField {
  readonly name: string;
  readonly kind: FieldKind;
  readonly required: boolean;
  readonly description?: string;
  readonly options?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  /** The schema's default, shown as the field's starting text. */
  readonly initial: string;
  readonly hasDefault: boolean;
}

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  anyOf?: Schema[];
};

const kindOf = (s: Schema): FieldKind => {
  if (Array.isArray(s.enum) && s.enum.length > 0) return "enum";
  const types = (Array.isArray(s.type) ? s.type : [s.type]).filter((t) => t && t !== "null");
  if (types.length === 1) {
    const [t] = types;
    if (t === "string" || t === "number" || t === "integer" || t === "boolean") return t;
  }
  // An optional value zod writes as anyOf [T, null]: the form treats it as T.
  const alternatives = (s.anyOf ?? []).filter((a) => a.type !== "null");
  if (alternatives.length === 1 && alternatives[0]) return kindOf(alternatives[0]);
  return "json";
};

const initialText = (kind: FieldKind, value: unknown): string => {
  if (value === undefined) return kind === "boolean" ? "false" : "";
  if (kind === "json") return JSON.stringify(value, null, 2);
  return String(value);
};

/** The fields of a parameters schema, in its order; none for a flow without parameters. */
export function paramFields(schema: unknown): ParamField[] {
  const s = (schema ?? {}) as Schema;
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).map(([name, prop]) => {
    const kind = kindOf(prop);
    const hasDefault = prop.default !== undefined;
    return {
      name,
      kind,
      required: required.has(name) && !hasDefault,
      ...(prop.description ? { description: prop.description } : {}),
      ...(kind === "enum" ? { options: prop.enum ?? [] } : {}),
      ...(prop.minimum !== undefined ? { minimum: prop.minimum } : {}),
      ...(prop.maximum !== undefined ? { maximum: prop.maximum } : {}),
      initial: initialText(kind, prop.default),
      hasDefault,
    };
  });
}

export interface ParsedParams {
  readonly values: Record<string, unknown>;
  /** Per field name, what is wrong with what was typed; empty when all is well. */
  readonly errors: Record<string, string>;
}

/** Turns the typed texts into parameter values; a field left empty is left out (its default applies). */
export function parseParams(fields: readonly ParamField[], texts: Record<string, string>): ParsedParams {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const text = (texts[f.name] ?? f.initial).trim();
    if (text === "" && f.kind !== "string") {
      if (f.required) errors[f.name] = "required";
      continue;
    }
    if (text === "" && f.kind === "string") {
      if (f.required) errors[f.name] = "required";
      else if (!f.hasDefault) continue;
      else values[f.name] = "";
      continue;
    }
    switch (f.kind) {
      case "string":
        values[f.name] = texts[f.name] ?? f.initial;
        break;
      case "boolean":
        values[f.name] = text === "true";
        break;
      case "number":
      case "integer": {
        const n = Number(text);
        if (!Number.isFinite(n)) errors[f.name] = "must be a number";
        else if (f.kind === "integer" && !Number.isInteger(n)) errors[f.name] = "must be a whole number";
        else if (f.minimum !== undefined && n < f.minimum) errors[f.name] = `must be at least ${f.minimum}`;
        else if (f.maximum !== undefined && n > f.maximum) errors[f.name] = `must be at most ${f.maximum}`;
        else values[f.name] = n;
        break;
      }
      case "enum": {
        const match = (f.options ?? []).find((o) => String(o) === text);
        if (match === undefined)
          errors[f.name] = `must be one of ${(f.options ?? []).map(String).join(", ")}`;
        else values[f.name] = match;
        break;
      }
      case "json":
        try {
          values[f.name] = JSON.parse(text);
        } catch (error) {
          errors[f.name] = `not valid JSON: ${(error as Error).message}`;
        }
        break;
    }
  }
  return { values, errors };
}

/** The server's INVALID_PARAMETERS issues, by top-level field (the form's), the rest under "". */
export function issuesByField(details: unknown): Record<string, string> {
  const issues = ((details as { issues?: { path: string; message: string }[] })?.issues ?? []) as {
    path: string;
    message: string;
  }[];
  const out: Record<string, string> = {};
  for (const i of issues) {
    const field = i.path.split(".")[0] ?? "";
    out[field] = out[field] ? `${out[field]}; ${i.message}` : i.message;
  }
  return out;
}
