import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { SchedulerLoop } from "../services/scheduler.js";

/** Prometheus metrics of one server (its own registry, so several servers in one test process don't clash). */
export function createMetrics(schedulerLoop: () => SchedulerLoop | undefined = () => undefined) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "regent_" });
  return {
    registry,
    requests: new Counter({
      name: "regent_http_requests_total",
      help: "HTTP requests by route and status",
      labelNames: ["route", "status"] as const,
      registers: [registry],
    }),
    operations: new Histogram({
      name: "regent_graphql_operation_seconds",
      help: "GraphQL operations by name and outcome",
      labelNames: ["operation", "outcome"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    scheduler: new Gauge({
      name: "regent_scheduler_last_loop",
      help: "The scheduler's last loop on this replica: ms, queries, schedules planned, runs created, leader (1/0)",
      labelNames: ["figure"] as const,
      registers: [registry],
      collect() {
        const loop = schedulerLoop();
        if (!loop) return;
        this.set({ figure: "ms" }, loop.ms);
        this.set({ figure: "queries" }, loop.queries);
        this.set({ figure: "schedules" }, loop.schedules);
        this.set({ figure: "created" }, loop.created);
        this.set({ figure: "leader" }, loop.leader ? 1 : 0);
      },
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
