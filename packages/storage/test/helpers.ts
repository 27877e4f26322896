import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, expect } from "vitest";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const example = (name: string) => join(REPO, "examples", name);

/**
 * A URL of the SDK that Node itself can import in a vitest worker, for `loadBundle(…, { sdkUrl })`.
 * vitest starts its workers with `--conditions @regent/source`, so Node would resolve `@regent/core` from
 * the built SDK to TypeScript sources it cannot load; a one-file bundle of the SDK has no such imports.
 * Made once per test file, removed after it.
 */
export function bundledSdk(): () => string {
  let dir: string | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "regent-sdk-"));
    const outfile = join(dir, "sdk.mjs");
    await build({
      entryPoints: [join(REPO, "packages/sdk/src/index.ts")],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      conditions: ["@regent/source"],
      logLevel: "silent",
      banner: {
        js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
      },
    });
    url = pathToFileURL(outfile).href;
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => url ?? expect.unreachable("bundledSdk() is ready in tests, not at collection");
}

/** Writes files (path relative to `dir` → content), making their folders. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** A project in `dir` whose node_modules is a symlink to the repository's (zod, …). */
export async function linkRepoNodeModules(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await symlink(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
}

/**
 * A project with packages of each kind: `uses-native` (pure JavaScript, CommonJS) requires `fake-native`
 * (a `binding.gyp`); `addon-pkg` ships a compiled `.node` file; `gyp-pkg` says `"gypfile": true`.
 */
export const NATIVE_PROJECT: Record<string, string> = {
  "flow.ts": `import { flow } from "@regent/sdk";
import { greet } from "uses-native";
import gyp from "gyp-pkg";
import addon from "addon-pkg";

export default flow({ name: "native" }, async () => [greet("Ada"), gyp, addon]);
`,
  "node_modules/uses-native/package.json": JSON.stringify({ name: "uses-native", version: "1.0.0" }),
  "node_modules/uses-native/index.js": `const native = require("fake-native");
exports.greet = (name) => native.hello(name);
`,
  "node_modules/fake-native/package.json": JSON.stringify({ name: "fake-native", version: "1.0.0" }),
  "node_modules/fake-native/binding.gyp": `{ "targets": [{ "target_name": "fake", "sources": ["fake.cc"] }] }\n`,
  "node_modules/fake-native/index.js": `exports.hello = (name) => "native hello " + name;\n`,
  "node_modules/addon-pkg/package.json": JSON.stringify({ name: "addon-pkg", version: "1.0.0" }),
  "node_modules/addon-pkg/build/Release/addon.node": "not really a shared library",
  "node_modules/addon-pkg/index.js": `module.exports = "addon";\n`,
  "node_modules/gyp-pkg/package.json": JSON.stringify({ name: "gyp-pkg", version: "1.0.0", gypfile: true }),
  "node_modules/gyp-pkg/index.js": `module.exports = "gyp";\n`,
};
