import { type ColumnKind, RELATIONS, TABLES, type TableName } from "../db/tables.js";
import { countRows, selectRows } from "../store/reads.js";
import { builder } from "./builder.js";
import { rowVisible, scopedWhere } from "./run-scope.js";

// Every table becomes a GraphQL object type, a `<table>_bool_exp` filter, a `<table>_order_by` input and
// three queries — `<table>`, `<table>_by_pk`, `<table>_aggregate` — generated from TABLES and RELATIONS,
// as Prefect 1 Server (Hasura) exposed them.

type Ref = ReturnType<typeof builder.objectRef<Record<string, unknown>>>;
type InputRef = ReturnType<typeof builder.inputRef<Record<string, unknown>>>;

const SCALAR: Record<ColumnKind, "uuid" | "String" | "Int" | "Boolean" | "timestamptz" | "jsonb"> = {
  uuid: "uuid",
  text: "String",
  int: "Int",
  bool: "Boolean",
  timestamp: "timestamptz",
  json: "jsonb",
};

/** Columns that are never null, so their GraphQL fields are non-null. */
const NOT_NULL: Partial<Record<TableName, readonly string[]>> = {
  project: ["id", "name", "created", "updated"],
  flow: [
    "id",
    "version_group_id",
    "project_id",
    "name",
    "version",
    "archived",
    "labels",
    "schedule_active",
    "content_hash",
    "created",
    "updated",
  ],
  flow_run: [
    "id",
    "flow_id",
    "name",
    "parameters",
    "context",
    "labels",
    "scheduled_start_time",
    "state",
    "state_version",
    "state_timestamp",
    "restart_count",
    "lazarus_count",
    "auto_scheduled",
    "created",
    "updated",
  ],
  task_run: [
    "id",
    "flow_run_id",
    "task_key",
    "task_name",
    "map_index",
    "upstream",
    "tags",
    "state",
    "state_version",
    "state_timestamp",
    "attempts",
    "created",
    "updated",
  ],
  flow_run_state: ["id", "flow_run_id", "state", "timestamp", "version"],
  task_run_state: ["id", "task_run_id", "flow_run_id", "state", "timestamp", "version"],
  log: ["id", "flow_run_id", "level", "message", "timestamp", "seq"],
  agent: ["id", "name", "type", "labels", "accept_unlabeled", "last_seen", "created"],
  concurrency_limit: ["id", "kind", "name", "slots", "created", "updated"],
  notification_rule: ["id", "name", "states", "kind", "target", "active", "created"],
  notification: [
    "id",
    "rule_id",
    "flow_run_id",
    "state",
    "state_version",
    "payload",
    "status",
    "attempts",
    "next_attempt",
    "created",
  ],
};

export const orderByEnum = builder.enumType("order_by", {
  values: [
    "asc",
    "asc_nulls_first",
    "asc_nulls_last",
    "desc",
    "desc_nulls_first",
    "desc_nulls_last",
  ] as const,
});

const comparisonInputs = new Map<string, InputRef>();
function comparisonExp(scalar: (typeof SCALAR)[ColumnKind]): InputRef {
  const name = `${scalar}_comparison_exp`;
  const existing = comparisonInputs.get(name);
  if (existing) return existing;
  const ref = builder.inputRef<Record<string, unknown>>(name);
  ref.implement({
    fields: (t) =>
      scalar === "jsonb"
        ? { _is_null: t.boolean({ required: false }) }
        : {
            _eq: t.field({ type: scalar, required: false }),
            _neq: t.field({ type: scalar, required: false }),
            _in: t.field({ type: [scalar], required: false }),
            _nin: t.field({ type: [scalar], required: false }),
            _gt: t.field({ type: scalar, required: false }),
            _gte: t.field({ type: scalar, required: false }),
            _lt: t.field({ type: scalar, required: false }),
            _lte: t.field({ type: scalar, required: false }),
            _is_null: t.boolean({ required: false }),
            ...(scalar === "String"
              ? { _like: t.string({ required: false }), _ilike: t.string({ required: false }) }
              : {}),
          },
  });
  comparisonInputs.set(name, ref);
  return ref;
}

// Not through the generic reads: bundles (read by hash only, `flow_bundle(hash)`), task slots and the
// task queue (the executors' business: task-queue.ts), notification secrets (never read back), keys, and
// flows' secrets (`secrets` lists their names; only runs read values).
const HIDDEN: ReadonlySet<TableName> = new Set([
  "flow_bundle",
  "task_slot",
  "task_queue",
  "notification_secret",
  "api_key",
  "server_key",
  "secret",
]);
const tableNames = (Object.keys(TABLES) as TableName[]).filter((t) => !HIDDEN.has(t));
const objectRefs = new Map<TableName, Ref>(
  tableNames.map((t) => [t, builder.objectRef<Record<string, unknown>>(t)]),
);
const boolExps = new Map<TableName, InputRef>(
  tableNames.map((t) => [t, builder.inputRef<Record<string, unknown>>(`${t}_bool_exp`)]),
);
const orderBys = new Map<TableName, InputRef>(
  tableNames.map((t) => [t, builder.inputRef<Record<string, unknown>>(`${t}_order_by`)]),
);

export const objectRef = (table: TableName): Ref => objectRefs.get(table)!;

for (const table of tableNames) {
  const columns = TABLES[table] as Record<string, ColumnKind>;
  const relations = RELATIONS[table];
  const notNull = new Set(NOT_NULL[table] ?? []);
  const boolExp = boolExps.get(table)!;
  const orderBy = orderBys.get(table)!;

  boolExp.implement({
    fields: (t) => ({
      _and: t.field({ type: [boolExp], required: false }),
      _or: t.field({ type: [boolExp], required: false }),
      _not: t.field({ type: boolExp, required: false }),
      ...Object.fromEntries(
        Object.entries(columns).map(([c, kind]) => [
          c,
          t.field({ type: comparisonExp(SCALAR[kind]), required: false }),
        ]),
      ),
      ...Object.fromEntries(
        Object.entries(relations).map(([name, rel]) => [
          name,
          t.field({ type: boolExps.get(rel.table)!, required: false }),
        ]),
      ),
    }),
  });

  orderBy.implement({
    fields: (t) =>
      // JSON columns are not orderable (jsonb and text sort differently across the two databases).
      Object.fromEntries(
        Object.entries(columns)
          .filter(([, kind]) => kind !== "json")
          .map(([c]) => [c, t.field({ type: orderByEnum, required: false })]),
      ),
  });

  objectRefs.get(table)!.implement({
    fields: (t) => ({
      ...Object.fromEntries(
        Object.entries(columns).map(([c, kind]) => [
          c,
          t.field({
            type: SCALAR[kind],
            nullable: !notNull.has(c),
            resolve: (row) => row[c] as never,
          }),
        ]),
      ),
      // Prefect 1 names the state version `version` on runs; scripts pass it back to set_*_states.
      ...(table === "flow_run" || table === "task_run"
        ? {
            version: t.int({
              description: "The state version (Prefect 1 name of state_version)",
              resolve: (row) => row.state_version as number,
            }),
          }
        : {}),
      ...Object.fromEntries(
        Object.entries(relations).map(([name, rel]) => {
          const target = objectRefs.get(rel.table)!;
          if (rel.kind === "object") {
            return [
              name,
              t.field({
                type: target,
                nullable: true,
                resolve: async (row, _args, ctx) => {
                  const key = row[rel.from];
                  if (typeof key !== "string") return null;
                  const found = await ctx.loader(rel.table, rel.to).load(key);
                  return found && (await rowVisible(ctx, rel.table, found)) ? found : null;
                },
              }),
            ];
          }
          return [
            name,
            t.field({
              type: [target],
              args: {
                where: t.arg({ type: boolExps.get(rel.table)!, required: false }),
                order_by: t.arg({ type: [orderBys.get(rel.table)!], required: false }),
                limit: t.arg.int({ required: false }),
                offset: t.arg.int({ required: false }),
              },
              resolve: (row, args, ctx) => {
                const own = { [rel.to]: { _eq: row[rel.from] } };
                const where = args.where ? { _and: [own, args.where] } : own;
                return selectRows(ctx.store.database, rel.table, {
                  where: scopedWhere(ctx, rel.table, where),
                  orderBy: args.order_by,
                  limit: args.limit,
                  offset: args.offset,
                });
              },
            }),
          ];
        }),
      ),
    }),
  });

  const aggregateFields = builder.objectRef<{ count: number }>(`${table}_aggregate_fields`).implement({
    fields: (t) => ({ count: t.exposeInt("count") }),
  });
  const aggregate = builder
    .objectRef<{ where: Record<string, unknown> | null | undefined }>(`${table}_aggregate`)
    .implement({
      fields: (t) => ({
        aggregate: t.field({
          type: aggregateFields,
          resolve: async (parent, _args, ctx) => ({
            count: await countRows(ctx.store.database, table, scopedWhere(ctx, table, parent.where)),
          }),
        }),
      }),
    });

  builder.queryFields((t) => ({
    [table]: t.field({
      type: [objectRefs.get(table)!],
      description: `Rows of ${table}, filtered, ordered and paged as in Prefect 1 Server`,
      args: {
        where: t.arg({ type: boolExp, required: false }),
        order_by: t.arg({ type: [orderBy], required: false }),
        limit: t.arg.int({ required: false }),
        offset: t.arg.int({ required: false }),
      },
      resolve: (_root, args, ctx) =>
        selectRows(ctx.store.database, table, {
          where: scopedWhere(ctx, table, args.where),
          orderBy: args.order_by,
          limit: args.limit,
          offset: args.offset,
        }),
    }),
    [`${table}_by_pk`]: t.field({
      type: objectRefs.get(table)!,
      nullable: true,
      args: { id: t.arg({ type: "uuid", required: true }) },
      resolve: async (_root, args, ctx) => {
        const found = await ctx.loader(table, "id").load(args.id);
        return found && (await rowVisible(ctx, table, found)) ? found : null;
      },
    }),
    [`${table}_aggregate`]: t.field({
      type: aggregate,
      args: { where: t.arg({ type: boolExp, required: false }) },
      resolve: (_root, args) => ({ where: args.where }),
    }),
  }));
}
