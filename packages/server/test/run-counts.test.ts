import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { type Api, seedFlow, startApi } from "./helpers.js";

// The dashboard's chart: flow runs by state per hour or day, counted by the database.

for (const backend of BACKENDS) {
  describe(`flow_run_counts on ${backend}`, () => {
    let api: Api;
    beforeEach(async () => {
      api = await startApi(backend, { services: false });
    });
    afterEach(async () => {
      await api.close();
    });
    const COUNTS = `query($since: timestamptz!, $until: timestamptz, $bucket: run_count_bucket!, $flow: uuid) {
      flow_run_counts(since: $since, until: $until, bucket: $bucket, flow_id: $flow) { bucket state count } }`;

    test("counts runs by state per UTC hour and day of their scheduled start, within the span", async () => {
      const { flowId } = await seedFlow(api);
      const at = async (iso: string, state?: string) => {
        const { create_flow_run } = await api.ok(
          `mutation($id: uuid!, $at: timestamptz!) { create_flow_run(input: { flow_id: $id, scheduled_start_time: $at }) { id } }`,
          { id: flowId, at: iso },
        );
        if (state)
          await api.ok(
            `mutation($id: uuid!, $type: state_type!) { set_flow_run_states(input: { states: [{ flow_run_id: $id, version: 1, state: { type: $type } }] }) { refused { message } } }`,
            { id: create_flow_run.id, type: state },
          );
      };
      await at("2026-11-27T09:59:59.999Z"); // before the span
      await at("2026-11-27T10:00:00.000Z");
      await at("2026-11-27T10:30:00.000+02:00"); // 08:30 UTC: before too
      await at("2026-11-27T10:59:00.000Z", "Cancelled");
      await at("2026-11-27T11:15:00.000Z", "Cancelled");
      await at("2026-11-28T00:05:00.000Z");
      await at("2026-11-28T12:00:00.000Z"); // the span's end: not in it
      const hourly = await api.ok(COUNTS, {
        since: "2026-11-27T10:00:00Z",
        until: "2026-11-28T12:00:00Z",
        bucket: "hour",
      });
      expect(hourly.flow_run_counts).toEqual([
        { bucket: "2026-11-27T10:00:00.000Z", state: "Cancelled", count: 1 },
        { bucket: "2026-11-27T10:00:00.000Z", state: "Scheduled", count: 1 },
        { bucket: "2026-11-27T11:00:00.000Z", state: "Cancelled", count: 1 },
        { bucket: "2026-11-28T00:00:00.000Z", state: "Scheduled", count: 1 },
      ]);
      const daily = await api.ok(COUNTS, {
        since: "2026-11-27T00:00:00Z",
        until: "2026-11-29T00:00:00Z",
        bucket: "day",
      });
      expect(daily.flow_run_counts).toEqual([
        { bucket: "2026-11-27T00:00:00.000Z", state: "Cancelled", count: 2 },
        { bucket: "2026-11-27T00:00:00.000Z", state: "Scheduled", count: 3 },
        { bucket: "2026-11-28T00:00:00.000Z", state: "Scheduled", count: 2 },
      ]);
      const other = await api.ok(COUNTS, {
        since: "2026-11-27T00:00:00Z",
        until: "2026-11-29T00:00:00Z",
        bucket: "day",
        flow: "00000000-0000-4000-8000-000000000000",
      });
      expect(other.flow_run_counts).toEqual([]);
    });

    test("a span too long for its bucket, or backwards, is refused saying why", async () => {
      const long = await api.gql(COUNTS, {
        since: "2026-01-01T00:00:00Z",
        until: "2026-02-01T00:00:00Z",
        bucket: "hour",
      });
      expect(long.errors?.[0].message).toMatch(/at most 192 hours in one read \(asked for 744\)/);
      const backwards = await api.gql(COUNTS, {
        since: "2026-02-01T00:00:00Z",
        until: "2026-01-01T00:00:00Z",
        bucket: "day",
      });
      expect(backwards.errors?.[0].message).toBe("since must be before until");
    });
  });
}
