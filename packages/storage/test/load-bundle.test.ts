import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { FlowLoadError, InvalidUsageError } from "@regent/core";
import { isFlow } from "@regent/sdk";
import { regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import { bundleFlow, loadBundle, loadBundleByHash, localFolderStore } from "../src/index.js";
import { bundledSdk, example, NATIVE_PROJECT, REPO, writeFiles } from "./helpers.js";

type RunnableFlow = {
  run(params?: Record<string, unknown>): Promise<{ state: { type: string }; result: unknown }>;
};

async function loadFlow(mod: Record<string, unknown>): Promise<RunnableFlow> {
  expect(isFlow(mod.default)).toBe(true);
  return mod.default as unknown as RunnableFlow;
}

describe("loadBundle", () => {
  const sdkUrl = bundledSdk();

  test("a bundled example, stored and fetched again, loads and runs", async ({ tmp }) => {
    const bundle = await bundleFlow(example("hello.ts"));
    const store = localFolderStore({ dir: join(tmp, "store") });
    const code = await store.get(await store.put(bundle, { flowName: "hello" }));
    const hello = await loadFlow(await loadBundle(code, { dir: join(tmp, "bundles"), sdkUrl: sdkUrl() }));
    const run = await hello.run({ name: "Ada" });
    expect(run.state.type).toBe("Success");
    expect(run.result).toEqual({ greeted: "Ada", length: 3 });
  });

  test("the etl example runs with its retries from its bundle", async ({ tmp }) => {
    const bundle = await bundleFlow(example("etl.ts"));
    const etl = await loadFlow(await loadBundle(bundle.code, { dir: tmp, sdkUrl: sdkUrl() }));
    const run = await etl.run({ rows: 3 });
    expect(run.state.type).toBe("Success");
    expect(run.result).toBeCloseTo((10 + 20 + 30) * 1.2);
  });

  test("writes the code unchanged beside an @regent/sdk package that re-exports sdkUrl", async ({ tmp }) => {
    const bundle = await bundleFlow(example("hello.ts"));
    const first = await loadBundle(bundle.code, { dir: tmp, sdkUrl: sdkUrl() });
    const [home, ...others] = await readdir(tmp);
    expect(others).toEqual([]);
    expect(await readFile(join(tmp, home!, `${bundle.hash}.mjs`), "utf8")).toBe(bundle.code);
    expect(await readFile(join(tmp, home!, "node_modules/@regent/sdk/index.mjs"), "utf8")).toBe(
      `export * from "${sdkUrl()}";\n`,
    );
    // Loading the same code again reuses the file and the module.
    expect(await loadBundle(bundle.code, { dir: tmp, sdkUrl: sdkUrl() })).toBe(first);
  });

  test("native packages left out of the bundle are found from the folder upwards", async ({ tmp }) => {
    await writeFiles(tmp, NATIVE_PROJECT);
    const bundle = await bundleFlow(join(tmp, "flow.ts"));
    const mod = await loadBundle(bundle.code, { dir: join(tmp, ".regent", "bundles"), sdkUrl: sdkUrl() });
    const run = await (await loadFlow(mod)).run();
    expect(run.state.type).toBe("Success");
    expect(run.result).toEqual(["native hello Ada", "gyp", "addon"]);
  });

  test("stack traces point at the TypeScript source (node --enable-source-maps)", async ({ tmp }) => {
    await writeFiles(tmp, {
      "boom.ts": `import { flow } from "@regent/sdk";

export function boom(): never {
  throw new Error("boom");
}

export default flow({ name: "boom" }, async () => boom());
`,
    });
    const bundle = await bundleFlow(join(tmp, "boom.ts"));
    const dir = join(tmp, "bundles");
    await loadBundle(bundle.code, { dir, sdkUrl: sdkUrl() });
    const [home] = await readdir(dir);
    const url = pathToFileURL(join(dir, home!, `${bundle.hash}.mjs`)).href;
    const script = `const m = await import(${JSON.stringify(url)}); try { m.boom(); } catch (e) { console.log(e.stack); }`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--enable-source-maps", "--input-type=module", "-e", script],
      { timeout: 20_000 },
    );
    expect(stdout).toContain(`${join(dir, home!, "boom.ts")}:4:9`);
  });

  test("a bundle that throws while loading is a FlowLoadError with the stack", async ({ tmp }) => {
    await writeFile(join(tmp, "throws.ts"), 'throw new TypeError("nope");\nexport default 1;\n');
    const bundle = await bundleFlow(join(tmp, "throws.ts"));
    const error = await loadBundle(bundle.code, { dir: join(tmp, "b"), sdkUrl: sdkUrl() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FlowLoadError);
    expect((error as FlowLoadError).message).toMatch(/failed while loading: TypeError: nope/);
  });

  test("the built package in plain Node: the flow shares the caller's SDK module", async ({ tmp }) => {
    // As an executor does it: no vitest, the SDK the caller imports is the one the flow gets.
    await writeFiles(tmp, {
      "shared.ts": `import * as sdk from "@regent/sdk";
export const sdkFlow = sdk.flow;
export default sdk.flow({ name: "shared" }, async () => "ran");
`,
    });
    const script = `
      import { bundleFlow, loadBundle } from "@regent/storage";
      import * as sdk from "@regent/sdk";
      const bundle = await bundleFlow(${JSON.stringify(join(tmp, "shared.ts"))});
      const mod = await loadBundle(bundle.code, {
        dir: ${JSON.stringify(join(tmp, "bundles"))},
        sdkUrl: import.meta.resolve("@regent/sdk"),
      });
      const run = await mod.default.run();
      console.log(JSON.stringify({ same: mod.sdkFlow === sdk.flow, isFlow: sdk.isFlow(mod.default), state: run.state.type, result: run.result }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      cwd: REPO,
      timeout: 30_000,
    });
    expect(JSON.parse(stdout)).toEqual({ same: true, isFlow: true, state: "Success", result: "ran" });
  });

  test("sdkUrl must be a URL", async ({ tmp }) => {
    await expect(loadBundle("export {};\n", { dir: tmp, sdkUrl: "@regent/sdk" })).rejects.toThrow(
      InvalidUsageError,
    );
  });
});

describe("loadBundleByHash", () => {
  const sdkUrl = bundledSdk();

  test("fetches a bundle once; later loads in the same folder read it from there", async ({ tmp }) => {
    const bundle = await bundleFlow(example("hello.ts"));
    let fetches = 0;
    const fetch = async () => {
      fetches++;
      return bundle.code;
    };
    const mod = await loadBundleByHash(bundle.hash, fetch, { dir: tmp, sdkUrl: sdkUrl() });
    const run = await (await loadFlow(mod!)).run({ name: "Ada" });
    expect(run.state.type).toBe("Success");
    expect(await loadBundleByHash(bundle.hash, fetch, { dir: tmp, sdkUrl: sdkUrl() })).toBe(mod);
    expect(fetches).toBe(1);
    // The file is the one loadBundle writes for the same code.
    expect(await loadBundle(bundle.code, { dir: tmp, sdkUrl: sdkUrl() })).toBe(mod);
  });

  test("undefined when storage has no such bundle", async ({ tmp }) => {
    const hash = "a".repeat(64);
    expect(await loadBundleByHash(hash, async () => undefined, { dir: tmp, sdkUrl: sdkUrl() })).toBe(
      undefined,
    );
  });

  test("code whose sha256 is not the hash asked for is refused, and not written", async ({ tmp }) => {
    const hash = "b".repeat(64);
    const load = () =>
      loadBundleByHash(hash, async () => "export default 1;\n", { dir: tmp, sdkUrl: sdkUrl() });
    await expect(load()).rejects.toThrow(FlowLoadError);
    await expect(load()).rejects.toThrow(/storage returned other code for bundle b{64}/);
  });

  test("a hash that is not sha256 hex is refused before any file is touched", async ({ tmp }) => {
    await expect(
      loadBundleByHash("../../etc/passwd", async () => "", { dir: join(tmp, "x"), sdkUrl: sdkUrl() }),
    ).rejects.toThrow(InvalidUsageError);
    expect(await readdir(tmp)).toEqual([]);
  });
});
