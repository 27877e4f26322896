import { flowRunCounts } from "../store/run-counts.js";
import { builder } from "./builder.js";
import { requireFullReach } from "./run-scope.js";

const Bucket = builder.enumType("run_count_bucket", { values: ["hour", "day"] as const });

const RunCount = builder
  .objectRef<{ bucket: string; state: string; count: number }>("flow_run_count")
  .implement({
    description: "Flow runs in one state whose scheduled start falls in one bucket",
    fields: (t) => ({
      bucket: t.field({
        type: "timestamptz",
        description: "the bucket's start (UTC)",
        resolve: (r) => r.bucket,
      }),
      state: t.exposeString("state"),
      count: t.exposeInt("count"),
    }),
  });

builder.queryFields((t) => ({
  flow_run_counts: t.field({
    type: [RunCount],
    description:
      "Flow runs by state per hour or day (UTC) of their scheduled start, from `since` to `until` (default now): what the dashboard charts, counted by the database",
    args: {
      since: t.arg({ type: "timestamptz", required: true }),
      until: t.arg({ type: "timestamptz", required: false }),
      bucket: t.arg({ type: Bucket, required: true }),
      flow_id: t.arg({ type: "uuid", required: false }),
    },
    resolve: (_root, args, ctx) => {
      requireFullReach(ctx, "count all runs (flow_run_counts)");
      return flowRunCounts(ctx.store.database, {
        since: new Date(args.since),
        until: args.until ? new Date(args.until) : new Date(),
        bucket: args.bucket,
        flowId: args.flow_id ?? undefined,
      });
    },
  }),
}));
