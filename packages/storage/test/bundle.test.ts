import { createHash } from "node:crypto";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { SourceMap } from "node:module";
import { join } from "node:path";
import { FlowLoadError } from "@regent/core";
import { regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import { bundleFlow, type FlowBundle } from "../src/index.js";
import { example, linkRepoNodeModules, NATIVE_PROJECT, REPO, writeFiles } from "./helpers.js";

const sourceMapOf = (bundle: FlowBundle) => {
  const data = /\n\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\n$/.exec(
    bundle.code,
  );
  expect(data, "an inline source map at the end").not.toBeNull();
  return JSON.parse(Buffer.from(data![1]!, "base64").toString("utf8")) as {
    sources: string[];
    sourceRoot?: string;
  };
};

async function loadError(promise: Promise<unknown>): Promise<FlowLoadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlowLoadError);
  expect((error as FlowLoadError).code).toBe("FLOW_LOAD_FAILED");
  return error as FlowLoadError;
}

describe("bundleFlow", () => {
  test.for(["hello.ts", "etl.ts"])("examples/%s: zod inlined, @regent/sdk left external", async (name) => {
    const bundle = await bundleFlow(example(name));
    expect(bundle.entry).toBe(name);
    expect(bundle.externals).toEqual(["@regent/sdk"]);
    expect(bundle.nativeExternals).toEqual([]);
    expect(bundle.inputs).toContain(name);
    expect(bundle.inputs).toContain("node_modules/zod/v4/core/core.js");
    expect(bundle.inputs.every((i) => !i.startsWith("/") && !i.startsWith(".."))).toBe(true);
    expect([...bundle.inputs].sort()).toEqual(bundle.inputs);
    expect(bundle.code).toMatch(/^import \{[^}]*\bflow\b[^}]*\} from "@regent\/sdk";$/m);
    expect(bundle.code).not.toMatch(/from "zod"|require\("zod"\)/);
    expect(bundle.hash).toBe(createHash("sha256").update(bundle.code).digest("hex"));
    expect(bundle.sizeBytes).toBe(Buffer.byteLength(bundle.code));
  });

  test("the inline source map names the sources relatively and maps code back to the .ts file", async () => {
    const bundle = await bundleFlow(example("hello.ts"));
    const map = sourceMapOf(bundle);
    expect(map.sourceRoot).toBeUndefined();
    expect(map.sources).toContain("hello.ts");
    expect(map.sources).toContain("node_modules/zod/v4/core/core.js");
    const lines = bundle.code.split("\n");
    const line = lines.findIndex((l) => l.includes("ctx.log.info(`Hello, "));
    const entry = new SourceMap(map as never).findEntry(line, lines[line]!.indexOf("ctx"));
    expect(entry).toMatchObject({ originalSource: "hello.ts", originalLine: 5, originalColumn: 2 });
  });

  test("is deterministic: bundling twice, or a copy elsewhere, gives the same code and hash", async ({
    tmp,
  }) => {
    const first = await bundleFlow(example("hello.ts"));
    const again = await bundleFlow(example("hello.ts"));
    expect(again).toEqual(first);

    // Another checkout: the flow in a temporary folder, its node_modules a symlink to the repository's.
    await linkRepoNodeModules(tmp);
    await copyFile(example("hello.ts"), join(tmp, "hello.ts"));
    const copy = await bundleFlow(join(tmp, "hello.ts"));
    expect(copy.hash).toBe(first.hash);
    expect(copy).toEqual(first);
    for (const where of [REPO, tmp, REPO.replace(/\/$/, "")]) expect(copy.code).not.toContain(where);
    expect(copy.code).not.toContain("../");
  });

  test("the paths are relative to `root` when one is given", async () => {
    const bundle = await bundleFlow(example("hello.ts"), { root: REPO });
    expect(bundle.entry).toBe("examples/hello.ts");
    expect(bundle.inputs).toContain("node_modules/zod/v4/core/core.js");
    expect(sourceMapOf(bundle).sources).toContain("examples/hello.ts");
  });

  test("`sdkSpecifier` changes how the bundle imports the SDK", async () => {
    const url = "file:///opt/regent/sdk/dist/index.js";
    const bundle = await bundleFlow(example("hello.ts"), { sdkSpecifier: url });
    expect(bundle.code).toContain(`from "${url}"`);
    expect(bundle.code).not.toContain('"@regent/sdk"');
    expect(bundle.externals).toEqual([url]);
    expect(bundle.hash).not.toBe((await bundleFlow(example("hello.ts"))).hash);
  });

  test("packages with native addons stay external and are reported; pure ones are inlined", async ({
    tmp,
  }) => {
    await writeFiles(tmp, NATIVE_PROJECT);
    const bundle = await bundleFlow(join(tmp, "flow.ts"));
    expect(bundle.nativeExternals).toEqual(["addon-pkg", "fake-native", "gyp-pkg"]);
    expect(bundle.externals).toEqual(["@regent/sdk", "addon-pkg", "fake-native", "gyp-pkg"]);
    expect(bundle.inputs).toEqual(["flow.ts", "node_modules/uses-native/index.js"]);
    expect(bundle.code).toContain('__require("fake-native")');
    expect(bundle.code).toMatch(/^import \w+ from "gyp-pkg";$/m);
    expect(bundle.code).toMatch(/^import \w+ from "addon-pkg";$/m);
    expect(bundle.code).not.toContain("native hello");
  });

  test("a file that does not compile is reported as file:line:col", async ({ tmp }) => {
    const file = join(tmp, "broken.ts");
    await writeFile(
      file,
      `import { flow } from "@regent/sdk";\n\nexport default flow({ name: "x" }, async () => {\n  const = 1;\n});\n`,
    );
    const error = await loadError(bundleFlow(file));
    expect(error.message).toContain(`${file} does not compile:`);
    expect(error.message).toContain(`${file}:4:9: error: Expected identifier but found "="`);
    expect(error.message).toContain("    const = 1;\n            ^");
  });

  test("an import that cannot be resolved is reported where it is", async ({ tmp }) => {
    const file = join(tmp, "missing-dep.ts");
    await writeFile(file, `import { x } from "no-such-package";\nexport default x;\n`);
    const error = await loadError(bundleFlow(file));
    expect(error.message).toContain(`${file}:1:19: error: Could not resolve "no-such-package"`);
  });

  test("a missing flow file, or a folder, is a FlowLoadError", async ({ tmp }) => {
    const missing = join(tmp, "nope.ts");
    expect((await loadError(bundleFlow(missing))).message).toBe(
      `cannot read flow file ${missing}: no such file`,
    );
    await mkdir(join(tmp, "dir.ts"));
    expect((await loadError(bundleFlow(join(tmp, "dir.ts")))).message).toMatch(/: not a file$/);
  });

  test("a CommonJS dependency outside the root keeps an exact source map after renaming", async ({ tmp }) => {
    // The dependency lives beside the project (as in a workspace), so its name is shortened to
    // node_modules/…, and esbuild wraps it in __commonJS({ "<name>"(exports, module) { … } }).
    await writeFiles(tmp, {
      "node_modules/cjs-dep/package.json": JSON.stringify({ name: "cjs-dep", version: "1.0.0" }),
      "node_modules/cjs-dep/index.js": `exports.twice = function twice(n) { return n * 2; };\n`,
      "app/flows/flow.ts": `import { twice } from "cjs-dep";\nexport const four = twice(2);\n`,
    });
    const bundle = await bundleFlow(join(tmp, "app/flows/flow.ts"));
    expect(bundle.inputs).toEqual(["flow.ts", "node_modules/cjs-dep/index.js"]);
    expect(bundle.code).toContain('  "node_modules/cjs-dep/index.js"(exports) {');
    expect(bundle.code).toContain("// node_modules/cjs-dep/index.js\n");
    const lines = bundle.code.split("\n");
    const line = lines.findIndex((l) => l.includes("return n * 2"));
    const entry = new SourceMap(sourceMapOf(bundle) as never).findEntry(line, lines[line]!.indexOf("return"));
    expect(entry).toMatchObject({ originalSource: "node_modules/cjs-dep/index.js", originalLine: 0 });
  });
});
