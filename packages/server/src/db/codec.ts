import type { Dialect } from "./database.js";
import { type ColumnKind, type Row, TABLES, type TableName } from "./tables.js";

/** A value as a column of `kind` takes it on `dialect` (JSON as text, booleans as 0/1 on SQLite). */
export function encodeValue(kind: ColumnKind, dialect: Dialect, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case "json":
      return JSON.stringify(value);
    case "bool":
      return dialect === "postgres" ? Boolean(value) : value ? 1 : 0;
    case "timestamp":
      return toIsoTimestamp(value);
    default:
      return value;
  }
}

/**
 * What `Date#toISOString()` gives, for any day of any month (days 29–31 may roll over into the next
 * month, and are left to `Date`): such a string is its own normal form.
 */
const CANONICAL = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/** ISO 8601 UTC with milliseconds, so timestamps stored as text on SQLite compare in time order. */
export function toIsoTimestamp(value: unknown): string {
  // Most timestamps arrive in normal form already (every state of a batch passes here two or three times).
  if (typeof value === "string" && CANONICAL.test(value)) return value;
  const date = value instanceof Date ? value : new Date(value as string | number);
  if (Number.isNaN(date.getTime())) throw new TypeError(`not a timestamp: ${JSON.stringify(value)}`);
  return date.toISOString();
}

function decodeValue(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case "json":
      return typeof value === "string" ? JSON.parse(value) : value;
    case "bool":
      return value === true || value === 1 || value === "1" || value === "t";
    case "int":
      return typeof value === "number" ? value : Number(value);
    case "timestamp":
      return value instanceof Date ? value.toISOString() : new Date(value as string).toISOString();
    default:
      return value;
  }
}

/** A row as the driver returned it → the same row with portable JS values. */
export function decodeRow<T extends TableName>(table: T, raw: Record<string, unknown>): Row<T> {
  const columns = TABLES[table] as Record<string, ColumnKind>;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    const kind = columns[name];
    out[name] = kind ? decodeValue(kind, value) : value;
  }
  return out as Row<T>;
}

/** Encodes the given columns of a row for an insert or update. */
export function encodeRow<T extends TableName>(
  table: T,
  dialect: Dialect,
  values: Partial<Record<keyof (typeof TABLES)[T], unknown>>,
): Record<string, unknown> {
  const columns = TABLES[table] as Record<string, ColumnKind>;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const kind = columns[name];
    if (!kind) throw new Error(`internal: ${table} has no column ${name}`);
    if (value !== undefined) out[name] = encodeValue(kind, dialect, value);
  }
  return out;
}
