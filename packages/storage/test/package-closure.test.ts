import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { FlowLoadError } from "@regent/core";
import { regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import { copyPackages, packageClosure } from "../src/index.js";
import { writeFiles } from "./helpers.js";

const pkg = (name: string, version: string, deps: Record<string, string> = {}, optional = {}) =>
  JSON.stringify({ name, version, main: "index.js", dependencies: deps, optionalDependencies: optional });

// A project as npm lays it out: `app` needs a@1 (which needs shared@2, nested under it) and b (which
// needs shared@1, hoisted); `b` has an optional dependency that is not installed.
const PROJECT = {
  "node_modules/a/package.json": pkg("a", "1.0.0", { shared: "^2" }),
  "node_modules/a/index.js": "module.exports = 'a';",
  "node_modules/a/test/a.test.js": "// left out of copies",
  "node_modules/a/node_modules/shared/package.json": pkg("shared", "2.0.0"),
  "node_modules/a/node_modules/shared/index.js": "module.exports = 2;",
  "node_modules/b/package.json": pkg("b", "1.0.0", { shared: "^1" }, { "not-installed": "1" }),
  "node_modules/b/index.js": "module.exports = 'b';",
  "node_modules/shared/package.json": pkg("shared", "1.0.0"),
  "node_modules/shared/index.js": "module.exports = 1;",
  "node_modules/@scope/c/package.json": JSON.stringify({
    name: "@scope/c",
    version: "3.0.0",
    type: "module",
    exports: { ".": { import: "./index.mjs" } },
  }),
  "node_modules/@scope/c/index.mjs": "export default 'c';",
  "node_modules/unrelated/package.json": pkg("unrelated", "1.0.0"),
};

describe("packageClosure", () => {
  test("takes each package with what it depends on, laid out so Node resolves each version as here", async ({
    tmp,
  }) => {
    await writeFiles(tmp, PROJECT);
    const closure = await packageClosure(["a", "b", "@scope/c"], tmp);
    // a's shared@2 is met first (breadth first) and hoisted; b's shared@1 then goes below b.
    expect(closure.map((p) => `${p.dest}@${p.version}`)).toEqual([
      "node_modules/@scope/c@3.0.0",
      "node_modules/a@1.0.0",
      "node_modules/b@1.0.0",
      "node_modules/b/node_modules/shared@1.0.0",
      "node_modules/shared@2.0.0",
    ]);
    const copy = join(tmp, "copy");
    expect(await copyPackages(closure, copy)).toBe(5);
    // In the copy, Node gives each package the version it has here.
    const from = (name: string) => createRequire(join(copy, "node_modules", name, "index.js"));
    expect(from("a")("shared")).toBe(2);
    expect(from("b")("shared")).toBe(1);
    expect(existsSync(join(copy, "node_modules/a/test"))).toBe(false);
    expect(existsSync(join(copy, "node_modules/unrelated"))).toBe(false);
  });

  test("a missing package is an error naming it and what needs it; a missing optional one is skipped", async ({
    tmp,
  }) => {
    await writeFiles(tmp, { ...PROJECT, "node_modules/a/package.json": pkg("a", "1.0.0", { gone: "1" }) });
    const error = await packageClosure(["a"], tmp).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowLoadError);
    expect((error as Error).message).toBe(
      'the package "gone" (needed by a) is not installed: run npm install where the flow is',
    );
    expect((await packageClosure(["b"], tmp, { optional: ["pg-native"] })).map((p) => p.name)).toEqual([
      "b",
      "shared",
    ]);
  });
});
