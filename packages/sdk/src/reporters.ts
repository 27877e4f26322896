import type { EngineEvent, EngineReporter } from "./types.js";

/** Sends every event to each reporter in turn; `flush` waits for all of them. */
export function multiReporter(...reporters: EngineReporter[]): EngineReporter {
  return {
    record(event) {
      for (const r of reporters) r.record(event);
    },
    async flush() {
      await Promise.all(reporters.map((r) => r.flush?.()));
    },
  };
}

/** Keeps every event in memory, e.g. to assert on them in tests. */
export function memoryReporter(): EngineReporter & { readonly events: EngineEvent[] } {
  const events: EngineEvent[] = [];
  return {
    events,
    record(event) {
      events.push(event);
    },
  };
}
