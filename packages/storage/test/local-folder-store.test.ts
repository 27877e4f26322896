import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FlowLoadError, InvalidUsageError } from "@regent/core";
import { regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import { type FlowBundle, localFolderStore } from "../src/index.js";
import { sha256 } from "../src/internal/hash.js";

const bundleOf = (code: string): FlowBundle => ({
  code,
  hash: sha256(code),
  entry: "hello.ts",
  inputs: ["hello.ts"],
  externals: ["@regent/sdk"],
  nativeExternals: [],
  sizeBytes: Buffer.byteLength(code),
});

const bundle = bundleOf('export default "hello";\n');

async function getError(promise: Promise<unknown>): Promise<FlowLoadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlowLoadError);
  expect((error as FlowLoadError).code).toBe("FLOW_LOAD_FAILED");
  return error as FlowLoadError;
}

describe("localFolderStore", () => {
  test("puts a bundle at <dir>/<flow>/<hash>.mjs and gets it back", async ({ tmp }) => {
    const store = localFolderStore({ dir: tmp });
    expect(store.kind).toBe("local");
    const stored = await store.put(bundle, { flowName: "hello", version: 1 });
    expect(stored).toEqual({ kind: "local", ref: `hello/${bundle.hash}.mjs`, hash: bundle.hash });
    expect(await readFile(join(tmp, "hello", `${bundle.hash}.mjs`), "utf8")).toBe(bundle.code);
    expect(await store.get(stored)).toBe(bundle.code);
    // The ref is relative: the same folder mounted elsewhere serves the same refs.
    expect(await localFolderStore({ dir: `${tmp}/./hello/..` }).get(stored)).toBe(bundle.code);
  });

  test("putting the same bundle again writes nothing and returns the same ref", async ({ tmp }) => {
    const store = localFolderStore({ dir: tmp });
    const first = await store.put(bundle, { flowName: "hello" });
    const file = join(tmp, first.ref);
    const before = await stat(file);
    const second = await store.put(bundle, { flowName: "hello", version: 2 });
    expect(second).toEqual(first);
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
    expect((await stat(file)).ino).toBe(before.ino);
    expect(await readdir(join(tmp, "hello"))).toEqual([`${bundle.hash}.mjs`]); // no temporary files left
  });

  test("a new version of the flow is a second file beside the first", async ({ tmp }) => {
    const store = localFolderStore({ dir: tmp });
    const v2 = bundleOf('export default "hello again";\n');
    const [a, b] = [
      await store.put(bundle, { flowName: "hello" }),
      await store.put(v2, { flowName: "hello" }),
    ];
    expect(a.ref).not.toBe(b.ref);
    expect((await readdir(join(tmp, "hello"))).sort()).toEqual(
      [`${bundle.hash}.mjs`, `${v2.hash}.mjs`].sort(),
    );
    expect(await store.get(b)).toBe(v2.code);
  });

  test("an altered bundle is refused on get, and put repairs it", async ({ tmp }) => {
    const store = localFolderStore({ dir: tmp });
    const stored = await store.put(bundle, { flowName: "hello" });
    await writeFile(join(tmp, stored.ref), 'export default "evil";\n');
    const error = await getError(store.get(stored));
    expect(error.message).toMatch(
      /was altered or corrupted: its sha256 is [0-9a-f]{64}, the registered bundle's is/,
    );
    expect(error.details).toMatchObject({ reason: "hash-mismatch", expected: bundle.hash });
    await store.put(bundle, { flowName: "hello" });
    expect(await store.get(stored)).toBe(bundle.code);
  });

  test("a missing bundle is a FlowLoadError that says so", async ({ tmp }) => {
    const store = localFolderStore({ dir: tmp });
    const stored = await store.put(bundle, { flowName: "hello" });
    await rm(join(tmp, stored.ref));
    const error = await getError(store.get(stored));
    expect(error.message).toBe(
      `flow bundle ${stored.ref} is missing from ${tmp} (is the store's folder mounted here?)`,
    );
    expect(error.details).toMatchObject({ reason: "missing" });
  });

  test("a ref that leaves the folder, or from another kind of store, is refused", async ({ tmp }) => {
    const store = localFolderStore({ dir: join(tmp, "store") });
    await writeFile(join(tmp, "secret.mjs"), "x");
    const error = await getError(store.get({ kind: "local", ref: "../secret.mjs", hash: sha256("x") }));
    expect(error.message).toMatch(/points outside the store's folder/);
    await expect(store.get({ kind: "database", ref: "1", hash: bundle.hash })).rejects.toThrow(
      InvalidUsageError,
    );
  });

  test("flow names become one safe folder name each", async ({ tmp }) => {
    const store = localFolderStore({ dir: tmp });
    expect((await store.put(bundle, { flowName: "etl/daily run" })).ref).toBe(
      `etl%2Fdaily%20run/${bundle.hash}.mjs`,
    );
    expect((await store.put(bundle, { flowName: ".." })).ref).toBe(`%2E%2E/${bundle.hash}.mjs`);
    expect((await readdir(tmp)).sort()).toEqual(["%2E%2E", "etl%2Fdaily%20run"]);
    await expect(store.put(bundle, { flowName: " " })).rejects.toThrow(InvalidUsageError);
  });

  test("a bundle whose hash is not that of its code is refused", async ({ tmp }) => {
    const store = localFolderStore({ dir: tmp });
    await expect(store.put({ ...bundle, code: "changed" }, { flowName: "hello" })).rejects.toThrow(
      /its hash is not the sha256 of its code/,
    );
  });
});
