import { InvalidUsageError } from "@regent/core";
import { type Expression, type ExpressionBuilder, type SelectQueryBuilder, type SqlBool, sql } from "kysely";
import { encodeValue } from "../db/codec.js";
import type { Database, Dialect } from "../db/database.js";
import { type ColumnKind, RELATIONS, TABLES, type TableName } from "../db/tables.js";

// The compiler from Prefect-1 / Hasura read arguments (`where`, `order_by`, `limit`, `offset`) to Kysely.
// Identifiers come only from TABLES and RELATIONS (every key is looked up there first); values only ever
// reach the SQL as parameters. Both dialects give the same answers:
// - `_like` is case-sensitive and `_ilike` case-insensitive on both (SQLite's own LIKE ignores ASCII case,
//   so `_like` becomes a GLOB there). Patterns use `%`, `_` and `\` as the escape character, as in PostgreSQL.
//   On SQLite `_ilike` folds ASCII letters only (SQLite's lower() without ICU).
// - `asc` sorts nulls last and `desc` nulls first on both (PostgreSQL's default, Hasura's documented order).
// - `_eq`/`_neq`/`_in`/`_nin`/… follow SQL: a null column matches none of them; use `_is_null`.
// - A null operand (`{ name: { _eq: null } }`) is refused, as in Hasura 2; an undefined one is ignored.
// - `_and: []` and `{}` are true, `_or: []` is false, `_in: []` matches nothing, `_nin: []` everything.

/** The most rows one read returns: a larger or missing `limit` is lowered to it. */
export const MAX_LIMIT = 10_000;

/** How deeply `_and`/`_or`/`_not`/relations may nest in one `where`. */
export const MAX_WHERE_DEPTH = 32;

const COMPARISONS = {
  _eq: "=",
  _neq: "<>",
  _gt: ">",
  _gte: ">=",
  _lt: "<",
  _lte: "<=",
} as const;

const OPERATORS = [...Object.keys(COMPARISONS), "_in", "_nin", "_like", "_ilike", "_is_null"] as const;

const ORDER_DIRECTIONS = [
  "asc",
  "desc",
  "asc_nulls_first",
  "asc_nulls_last",
  "desc_nulls_first",
  "desc_nulls_last",
] as const;
type OrderDirection = (typeof ORDER_DIRECTIONS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ISO 8601: a date, optionally a time, optionally an offset (a time without one is taken as UTC). */
const ISO_TIMESTAMP =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

// The compiler works on untyped names (it checks them against TABLES itself), so it sees Kysely's builders
// through this loose schema; the exported functions keep their callers' types.
type LooseDb = Record<string, Record<string, unknown>>;
type Eb = ExpressionBuilder<LooseDb, string>;
type Bool = Expression<SqlBool>;

interface Context {
  readonly dialect: Dialect;
  /** How many relations enclose this level (names the subqueries' aliases). */
  readonly relationDepth: number;
}

/**
 * `where` (a Hasura `<table>_bool_exp` as a plain object) as a condition on `table`, for a query
 * `selectFrom(table)` with the table not aliased. Keys are columns of `table` (with comparison operators),
 * `_and`/`_or`/`_not`, or relations of `table` (an EXISTS over the related table). Throws
 * {@link InvalidUsageError} naming the path of anything unknown or of the wrong type.
 */
export function whereExpression<TB extends TableName>(
  eb: ExpressionBuilder<Database, TB>,
  table: TB,
  where: unknown,
  dialect: Dialect,
): Bool {
  return compileWhere(eb as unknown as Eb, table, table, where, "where", 0, { dialect, relationDepth: 0 });
}

function compileWhere(
  eb: Eb,
  table: TableName,
  alias: string,
  where: unknown,
  path: string,
  depth: number,
  ctx: Context,
): Bool {
  if (!isPlainObject(where)) {
    throw new InvalidUsageError(`${path}: expected an object (a ${table}_bool_exp), got ${show(where)}`);
  }
  if (depth > MAX_WHERE_DEPTH) {
    throw new InvalidUsageError(`${path}: nested more than ${MAX_WHERE_DEPTH} levels deep`);
  }
  const columns: Record<string, ColumnKind> = TABLES[table];
  const relations = RELATIONS[table];
  const parts: Bool[] = [];
  for (const [key, value] of Object.entries(where)) {
    if (value === undefined) continue;
    const at = `${path}.${key}`;
    if (value === null) throw new InvalidUsageError(`${at}: null is not a condition; leave the key out`);
    if (key === "_and" || key === "_or") {
      if (!Array.isArray(value)) {
        throw new InvalidUsageError(`${at}: expected a list of ${table}_bool_exp, got ${show(value)}`);
      }
      const list = value.map((item, i) =>
        compileWhere(eb, table, alias, item, `${at}[${i}]`, depth + 1, ctx),
      );
      parts.push(key === "_and" ? eb.and(list) : eb.or(list));
    } else if (key === "_not") {
      parts.push(eb.not(compileWhere(eb, table, alias, value, at, depth + 1, ctx)));
    } else if (Object.hasOwn(columns, key)) {
      parts.push(compileComparison(eb, `${alias}.${key}`, columns[key]!, value, at, ctx));
    } else if (Object.hasOwn(relations, key)) {
      const relation = relations[key]!;
      // Each level gets an alias of its own, so a relation back to a table further out stays unambiguous.
      const inner = `r${ctx.relationDepth + 1}`;
      const subquery = eb
        .selectFrom(`${relation.table} as ${inner}`)
        .select(sql.lit(1).as("one"))
        .where((ib) =>
          ib.and([
            ib(ib.ref(`${inner}.${relation.to}`), "=", ib.ref(`${alias}.${relation.from}`)),
            compileWhere(ib as unknown as Eb, relation.table, inner, value, at, depth + 1, {
              ...ctx,
              relationDepth: ctx.relationDepth + 1,
            }),
          ]),
        );
      parts.push(eb.exists(subquery));
    } else {
      const known = [...Object.keys(columns), ...Object.keys(relations), "_and", "_or", "_not"];
      throw new InvalidUsageError(`${at}: unknown field of ${table} (fields: ${known.join(", ")})`);
    }
  }
  return eb.and(parts);
}

function compileComparison(
  eb: Eb,
  column: string,
  kind: ColumnKind,
  comparison: unknown,
  path: string,
  ctx: Context,
): Bool {
  if (!isPlainObject(comparison)) {
    throw new InvalidUsageError(
      `${path}: expected an object of operators (${operatorsFor(kind)}), got ${show(comparison)}`,
    );
  }
  const ref = eb.ref(column);
  const parts: Bool[] = [];
  for (const [op, operand] of Object.entries(comparison)) {
    if (operand === undefined) continue;
    const at = `${path}.${op}`;
    if (!(OPERATORS as readonly string[]).includes(op)) {
      throw new InvalidUsageError(
        `${at}: unknown operator (operators for a ${kind} column: ${operatorsFor(kind)})`,
      );
    }
    if (operand === null) {
      throw new InvalidUsageError(`${at}: null is not a value to compare with; use _is_null: true`);
    }
    if (kind === "json" && op !== "_is_null") {
      throw new InvalidUsageError(`${at}: json columns support only _is_null`);
    }
    switch (op) {
      case "_is_null":
        if (typeof operand !== "boolean")
          throw new InvalidUsageError(`${at}: expected true or false, got ${show(operand)}`);
        parts.push(eb(ref, operand ? "is" : "is not", null));
        break;
      case "_in":
      case "_nin": {
        if (!Array.isArray(operand)) {
          throw new InvalidUsageError(`${at}: expected a list of ${kind} values, got ${show(operand)}`);
        }
        if (operand.length === 0) {
          // `in ()` is no SQL; nothing is in the empty list.
          parts.push(op === "_in" ? eb.or([]) : eb.and([]));
          break;
        }
        const values = operand.map((v, i) => parameter(eb, kind, v, `${at}[${i}]`, ctx));
        parts.push(eb(ref, op === "_in" ? "in" : "not in", values));
        break;
      }
      case "_like":
      case "_ilike": {
        if (kind !== "text") throw new InvalidUsageError(`${at}: ${op} applies to text columns only`);
        const pattern = likePattern(operand, at);
        if (ctx.dialect === "postgres")
          parts.push(eb(ref, op === "_like" ? "like" : "ilike", eb.val(pattern)));
        else if (op === "_like") parts.push(sql<SqlBool>`${ref} glob ${eb.val(likeToGlob(pattern))}`);
        else parts.push(sql<SqlBool>`lower(${ref}) like lower(${eb.val(pattern)}) escape '\\'`);
        break;
      }
      default: {
        const operator = COMPARISONS[op as keyof typeof COMPARISONS];
        parts.push(eb(ref, operator, parameter(eb, kind, operand, at, ctx)));
      }
    }
  }
  return eb.and(parts);
}

/** A checked operand as a parameter of the column's kind. */
function parameter(
  eb: Eb,
  kind: ColumnKind,
  value: unknown,
  path: string,
  ctx: Context,
): Expression<unknown> {
  const fail = (expected: string): never => {
    throw new InvalidUsageError(`${path}: expected ${expected}, got ${show(value)}`);
  };
  switch (kind) {
    case "uuid":
      if (typeof value !== "string" || !UUID.test(value)) fail("a uuid");
      // Ids are stored in lower case; PostgreSQL would take either, SQLite compares text.
      return eb.val((value as string).toLowerCase());
    case "text":
      if (typeof value !== "string") fail("a string");
      if ((value as string).includes("\u0000")) fail("a string without NUL characters");
      return eb.val(value);
    case "int":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) fail("an integer");
      // bigint on PostgreSQL: a value beyond int4 then compares instead of failing (as on SQLite), and
      // int4 = int8 comparisons still use the indexes.
      return ctx.dialect === "postgres" ? eb.cast(eb.val(value), "bigint") : eb.val(value);
    case "bool":
      if (typeof value !== "boolean") fail("true or false");
      return eb.val(encodeValue("bool", ctx.dialect, value));
    case "timestamp":
      return eb.val(encodeValue("timestamp", ctx.dialect, timestamp(value, fail)));
    case "json":
      return fail("no value (json columns support only _is_null)");
  }
}

function timestamp(value: unknown, fail: (expected: string) => never): Date {
  const expected = "an ISO 8601 timestamp such as 2024-05-01T12:00:00Z";
  let date: Date;
  if (value instanceof Date) {
    date = value;
  } else if (typeof value === "string") {
    const m = ISO_TIMESTAMP.exec(value.trim());
    if (!m) return fail(expected);
    // A time without an offset is UTC here, whatever the server's time zone (JavaScript would take local time).
    date = new Date(m[2] && !m[3] ? `${m[1]}T${m[2]}Z` : value.trim());
  } else {
    return fail(expected);
  }
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < 0 || year > 9999) return fail(expected);
  return date;
}

function likePattern(value: unknown, path: string): string {
  if (typeof value !== "string")
    throw new InvalidUsageError(`${path}: expected a LIKE pattern string, got ${show(value)}`);
  if (value.includes("\u0000"))
    throw new InvalidUsageError(`${path}: a pattern cannot contain NUL characters`);
  let escaped = false;
  for (const c of value) escaped = !escaped && c === "\\";
  if (escaped)
    throw new InvalidUsageError(
      `${path}: the pattern ends with the escape character \\ (write \\\\ for a backslash)`,
    );
  return value;
}

/** A LIKE pattern (`%`, `_`, `\` escapes) as the equivalent, case-sensitive, SQLite GLOB pattern. */
export function likeToGlob(pattern: string): string {
  const literal = (c: string) => (c === "*" || c === "?" || c === "[" ? `[${c}]` : c);
  let out = "";
  let escaped = false;
  for (const c of pattern) {
    if (escaped) {
      out += literal(c);
      escaped = false;
    } else if (c === "\\") escaped = true;
    else if (c === "%") out += "*";
    else if (c === "_") out += "?";
    else out += literal(c);
  }
  return out;
}

function operatorsFor(kind: ColumnKind): string {
  if (kind === "json") return "_is_null";
  return OPERATORS.filter((op) => kind === "text" || (op !== "_like" && op !== "_ilike")).join(", ");
}

// --- order_by ------------------------------------------------------------------------------------------

/**
 * Orders by `orderBy`, one `{ column: direction }` object or a list of them, applied in order (keys of one
 * object in their own order; a GraphQL input object keeps its schema's field order, so use a list for more
 * than one column), then by `id` so that pages are stable. Directions are Hasura's `order_by` values;
 * `asc` puts nulls last and `desc` first on both dialects. Null or undefined entries are ignored. json
 * columns cannot be ordered by (jsonb and text order differently).
 */
export function applyOrderBy<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  table: TableName,
  orderBy: unknown,
): SelectQueryBuilder<DB, TB, O> {
  const columns: Record<string, ColumnKind> = TABLES[table];
  const items: Array<readonly [string, OrderDirection]> = [];
  const list = orderBy === undefined || orderBy === null ? [] : Array.isArray(orderBy) ? orderBy : [orderBy];
  list.forEach((entry, i) => {
    const path = Array.isArray(orderBy) ? `order_by[${i}]` : "order_by";
    if (entry === undefined || entry === null) return;
    if (!isPlainObject(entry)) {
      throw new InvalidUsageError(`${path}: expected an object of column: direction, got ${show(entry)}`);
    }
    for (const [column, direction] of Object.entries(entry)) {
      if (direction === undefined || direction === null) continue;
      const at = `${path}.${column}`;
      if (!Object.hasOwn(columns, column)) {
        throw new InvalidUsageError(
          `${at}: unknown column of ${table} (columns: ${Object.keys(columns).join(", ")})`,
        );
      }
      if (columns[column] === "json") throw new InvalidUsageError(`${at}: cannot order by a json column`);
      if (typeof direction !== "string" || !(ORDER_DIRECTIONS as readonly string[]).includes(direction)) {
        throw new InvalidUsageError(
          `${at}: expected one of ${ORDER_DIRECTIONS.join(", ")}, got ${show(direction)}`,
        );
      }
      items.push([column, direction as OrderDirection]);
    }
  });
  if (!items.some(([column]) => column === "id")) items.push(["id", "asc"]);

  let ordered = query;
  for (const [column, direction] of items) {
    const descending = direction.startsWith("desc");
    const nullsFirst = direction.endsWith("nulls_first") || direction === "desc";
    ordered = ordered.orderBy(sql.ref(`${table}.${column}`), (ob) => {
      const dir = descending ? ob.desc() : ob.asc();
      return nullsFirst ? dir.nullsFirst() : dir.nullsLast();
    });
  }
  return ordered;
}

// --- paging --------------------------------------------------------------------------------------------

/**
 * `limit` and `offset`, each a non-negative integer or absent. A read never returns more than
 * {@link MAX_LIMIT} rows: a missing or larger `limit` becomes MAX_LIMIT (no error), so callers page with
 * `offset` beyond it.
 */
export function applyPaging<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  limit: number | null | undefined,
  offset: number | null | undefined,
): SelectQueryBuilder<DB, TB, O> {
  const check = (name: string, value: unknown): number | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw new InvalidUsageError(`${name}: expected a non-negative integer, got ${show(value)}`);
    }
    return value;
  };
  const rows = Math.min(check("limit", limit) ?? MAX_LIMIT, MAX_LIMIT);
  const skip = check("offset", offset) ?? 0;
  const limited = query.limit(rows);
  return skip > 0 ? limited.offset(skip) : limited;
}

// ---------------------------------------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A value for an error message, kept short. */
function show(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value instanceof Date)
    return `Date(${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()})`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
