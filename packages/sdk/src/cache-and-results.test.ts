import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, test as base, describe, expect, vi } from "vitest";
import {
  type FlowRunResult,
  flow,
  localResults,
  type ResultStorage,
  type TaskRunRecord,
  task,
} from "./index.js";

const test = base.extend<{ dir: string }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring.
  dir: async ({}, use) => {
    const dir = await mkdtemp(join(tmpdir(), "regent-sdk-results-"));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
});

afterEach(() => {
  vi.useRealTimers();
});

const typesOf = (run: TaskRunRecord) => run.states.map((s) => s.type);
const finalTypes = (r: FlowRunResult<unknown>) => r.taskRuns.map((t) => t.state?.type);

/** A cached task that counts the calls of its function. */
function cachedTask(options: { cacheExpiry?: string } = {}) {
  const counter = { calls: 0 };
  const fn = task(
    { name: "lookup", cacheKey: (id: number) => `id-${id}`, ...options },
    async (id: number) => {
      counter.calls++;
      return { id, name: `user ${id}` };
    },
  );
  return Object.assign(counter, { fn });
}

describe("cache", () => {
  test("a second call with the same key in one run is Cached, without running", async () => {
    const lookup = cachedTask();
    const r = await flow({ name: "cache-in-run" }, async () => [
      await lookup.fn(1),
      await lookup.fn(1),
      await lookup.fn(2),
    ]).run();

    expect(r.result).toEqual([
      { id: 1, name: "user 1" },
      { id: 1, name: "user 1" },
      { id: 2, name: "user 2" },
    ]);
    expect(lookup.calls).toBe(2);
    expect(finalTypes(r)).toEqual(["Success", "Cached", "Success"]);
    expect(typesOf(r.taskRuns[1]!)).toEqual(["Pending", "Cached"]);
    expect(r.taskRuns[1]!.state?.message).toBe("cache hit for key id-1");
  });

  test("a key function returning undefined does not cache", async () => {
    let calls = 0;
    const uncached = task({ name: "uncached", cacheKey: () => undefined }, async () => ++calls);
    const r = await flow({ name: "cache-undefined-key" }, async () => [
      await uncached(),
      await uncached(),
    ]).run();

    expect(r.result).toEqual([1, 2]);
    expect(finalTypes(r)).toEqual(["Success", "Success"]);
  });

  test.for([
    { storage: "the same localResults" },
    { storage: "another localResults on the same folder (as another process would)" },
  ])("a later run with $storage finds the entry: Cached", async ({ storage }, { dir }) => {
    const lookup = cachedTask();
    const first = localResults({ dir });
    const second = storage === "the same localResults" ? first : localResults({ dir });
    const f = flow({ name: "cache-across-runs" }, async () => lookup.fn(7));

    const r1 = await f.run(undefined, { resultStorage: first });
    const r2 = await f.run(undefined, { resultStorage: second });

    expect([finalTypes(r1), finalTypes(r2)]).toEqual([["Success"], ["Cached"]]);
    expect(r2.result).toEqual({ id: 7, name: "user 7" });
    expect(lookup.calls).toBe(1);
    expect(await readdir(join(dir, "cache"))).toHaveLength(1);
  });

  test("a task returning undefined is cached across runs too", async ({ dir }) => {
    let calls = 0;
    const sideEffect = task({ name: "side-effect", cacheKey: () => "once" }, async () => {
      calls++;
    });
    const f = flow({ name: "cache-undefined", resultStorage: localResults({ dir }) }, async () =>
      sideEffect(),
    );

    const r1 = await f.run();
    const r2 = await f.run();

    expect([r1.state.type, r2.state.type]).toEqual(["Success", "Success"]);
    expect([finalTypes(r1), finalTypes(r2)]).toEqual([["Success"], ["Cached"]]);
    expect(calls).toBe(1);
  });

  test("concurrent runs sharing a key all write the entry", async ({ dir }) => {
    const same = task({ name: "same-key", cacheKey: () => "k" }, async (n: number) => n);
    const r = await flow({ name: "cache-concurrent", resultStorage: localResults({ dir }) }, async () =>
      Promise.all([same(1), same(2), same(3), same(4)]),
    ).run();

    expect(r.state.type).toBe("Success");
    expect(finalTypes(r)).toEqual(["Success", "Success", "Success", "Success"]);
  });

  test.for([{ storage: "memory" }, { storage: "local" }])(
    "a $storage entry expires after cacheExpiry",
    async ({ storage }, { dir }) => {
      vi.useFakeTimers({ toFake: ["Date"] });
      const t0 = Date.parse("2030-01-01T00:00:00Z");
      const lookup = cachedTask({ cacheExpiry: "1m" });
      const resultStorage = storage === "local" ? localResults({ dir }) : undefined;
      const f = flow({ name: "cache-expiry", ...(resultStorage ? { resultStorage } : {}) }, async () =>
        lookup.fn(1),
      );
      const at = async (ms: number) => {
        vi.setSystemTime(t0 + ms);
        return finalTypes(await f.run())[0];
      };

      expect(await at(0)).toBe("Success");
      expect(await at(59_999)).toBe("Cached");
      expect(await at(60_000)).toBe("Success");
      expect(await at(60_000 + 59_999)).toBe("Cached");
      expect(lookup.calls).toBe(2);
    },
  );
});

describe("results", () => {
  test("localResults writes each result as JSON and refers to it from the Success state", async ({ dir }) => {
    const storage: ResultStorage = localResults({ dir });
    const rows = task({ name: "rows" }, async (n: number) => ({
      n,
      rows: Array.from({ length: n }, (_, i) => i),
    }));
    const r = await flow({ name: "results-json", resultStorage: storage }, async () =>
      rows.map([1, 2]),
    ).run();

    expect(r.state.type).toBe("Success");
    const children = r.taskRuns.filter((t) => t.info.mapIndex >= 0);
    expect(children).toHaveLength(2);
    for (const child of children) {
      const ref = child.state?.resultRef;
      expect(ref).toBeTypeOf("string");
      expect(dirname(ref!)).toBe(join(dir, r.id));
      expect(JSON.parse(await readFile(ref!, "utf8"))).toEqual({ value: child.value });
      expect(await storage.read(ref!)).toEqual(child.value);
    }
    expect(r.taskRuns.find((t) => t.state?.type === "Mapped")?.state?.resultRef).toBeUndefined();
  });

  test.for([
    { case: "persistResult: false", persist: false, storage: true },
    { case: "no resultStorage", persist: undefined, storage: false },
  ])("nothing is written with $case", async ({ persist, storage }, { dir }) => {
    const value = task(
      { name: "value", ...(persist === undefined ? {} : { persistResult: persist }) },
      async () => 1,
    );
    const f = flow(
      { name: "results-none", ...(storage ? { resultStorage: localResults({ dir }) } : {}) },
      async () => value(),
    );
    const r = await f.run();

    expect(r.result).toBe(1);
    expect(r.taskRuns[0]!.state).not.toHaveProperty("resultRef");
    expect(await readdir(dir)).toEqual([]);
  });

  const cyclic = () => {
    const node: Record<string, unknown> = { name: "loop" };
    node.self = node;
    return node;
  };
  test.for([
    { value: "a cyclic object", make: cyclic },
    { value: "a function", make: () => ({ callback: () => 1 }) },
    { value: "a bigint", make: () => ({ big: 10n }) },
  ])(
    "$value cannot be persisted: the run fails NOT_SERIALIZABLE, without retries",
    async ({ make }, { dir }) => {
      const unserialisable = task({ name: "unserialisable", retries: 2 }, async () => make());
      const r = await flow({ name: "results-bad", resultStorage: localResults({ dir }) }, async () => {
        await unserialisable();
      }).run();

      const run = r.taskRuns[0]!;
      expect(typesOf(run)).toEqual(["Pending", "Running", "Failed"]);
      expect(run.state?.error).toMatchObject({ code: "NOT_SERIALIZABLE" });
      expect(run.state?.message).toMatch(/^the result of task run .+ cannot be serialised: /);
      expect(r.state.type).toBe("Failed");
      expect(r.error).toMatchObject({ code: "NOT_SERIALIZABLE" });
      expect(await readdir(dir)).toEqual([]);
    },
  );
});
