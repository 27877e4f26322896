import type { SelectQueryBuilder } from "kysely";
import { decodeRow } from "../db/codec.js";
import type { Database, RegentDatabase } from "../db/database.js";
import type { Row, TableName } from "../db/tables.js";
import { applyOrderBy, applyPaging, whereExpression } from "./filters.js";

export interface ReadArgs {
  where?: Record<string, unknown> | null;
  orderBy?: unknown;
  limit?: number | null;
  offset?: number | null;
}

type AnyQuery = SelectQueryBuilder<Database, TableName, Record<string, unknown>>;

/** Hasura-style reads of any table: `where`, `order_by`, `limit`, `offset`. */
export async function selectRows<T extends TableName>(
  database: RegentDatabase,
  table: T,
  args: ReadArgs,
): Promise<Row<T>[]> {
  let query = database.db.selectFrom(table).selectAll() as unknown as AnyQuery;
  if (args.where) {
    const where = args.where;
    query = query.where((eb) => whereExpression(eb as never, table, where, database.dialect) as never);
  }
  query = applyOrderBy(query as never, table, args.orderBy ?? undefined) as unknown as AnyQuery;
  query = applyPaging(
    query as never,
    args.limit ?? undefined,
    args.offset ?? undefined,
  ) as unknown as AnyQuery;
  const rows = await query.execute();
  return rows.map((r) => decodeRow(table, r));
}

export async function countRows(
  database: RegentDatabase,
  table: TableName,
  where?: Record<string, unknown> | null,
): Promise<number> {
  let query = database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as("count")) as unknown as AnyQuery;
  if (where)
    query = query.where((eb) => whereExpression(eb as never, table, where, database.dialect) as never);
  const row = (await query.executeTakeFirst()) as { count: number | string | bigint } | undefined;
  return Number(row?.count ?? 0);
}

/** Rows of `table` whose `column` is one of `values` (DataLoader batches). */
export async function rowsByColumn<T extends TableName>(
  database: RegentDatabase,
  table: T,
  column: string,
  values: readonly string[],
): Promise<Row<T>[]> {
  if (values.length === 0) return [];
  const rows = await (database.db.selectFrom(table).selectAll() as unknown as AnyQuery)
    .where(column as never, "in", values as never)
    .execute();
  return rows.map((r) => decodeRow(table, r));
}
