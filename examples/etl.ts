// > ETL flow
import { flow, task } from "@regent/sdk";
import { z } from "zod";

interface Row {
  id: number;
  amount: number;
}

const extract = task({ name: "extract" }, async (rows: number, ctx) => {
  ctx.log.info(`extracting ${rows} rows`);
  return Array.from({ length: rows }, (_, i): Row => ({ id: i + 1, amount: (i + 1) * 10 }));
});

const transform = task({ name: "transform" }, async (row: Row) => ({ ...row, amount: row.amount * 1.2 }));

// A flaky sink: the first attempt of every run fails, the retry succeeds.
const load = task(
  { name: "load", retries: 3, retryDelay: "200ms", retryBackoff: 2 },
  async (rows: Row[], ctx) => {
    if (ctx.attempt === 1) throw new Error("warehouse connection reset");
    const total = rows.reduce((sum, r) => sum + r.amount, 0);
    ctx.log.info(`loaded ${rows.length} rows, total ${total.toFixed(2)}`);
    return total;
  },
);

export default flow(
  { name: "etl", params: z.object({ rows: z.number().int().min(1).max(10_000).default(5) }) },
  async ({ rows }) => {
    const extracted = extract(rows);
    const transformed = transform.map(extracted);
    return await load(transformed);
  },
);
// !!
