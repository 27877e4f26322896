import { expect, test } from "vitest";
import { createServerEvents, SUBSCRIBER_BUFFER } from "../src/events.js";

test("a subscriber that does not keep up misses the oldest events; publishing never throws", async () => {
  const events = createServerEvents();
  const slow = events.subscribe("flow_run:log", "run-1");
  const first = slow.next(); // subscribed once the iterator is first pulled
  const line = (n: number) => ({
    id: String(n),
    flow_run_id: "run-1",
    task_run_id: null,
    level: "info",
    message: `line ${n}`,
    timestamp: "2026-11-28T00:00:00Z",
  });
  // graphql-yoga's pub/sub threw past 1,024 waiting pushes, from inside the store's publish.
  expect(() => {
    for (let n = 0; n < SUBSCRIBER_BUFFER + 5_000; n++) events.publish("flow_run:log", "run-1", line(n));
  }).not.toThrow();
  expect((await first).value?.message).toBe("line 0");
  const next = await slow.next();
  expect(next.value?.message).toBe("line 5000"); // lines 1–4999 were dropped
  // Other runs' subscribers hear nothing of it; an ended subscription is forgotten.
  const other = events.subscribe("flow_run:log", "run-2");
  const pending = other.next();
  events.publish("flow_run:log", "run-2", line(-1));
  expect((await pending).value?.message).toBe("line -1");
  await slow.return();
  await other.return();
});
