import { SourceMap } from "node:module";
import { describe, expect, test } from "vitest";
import { type RawSourceMap, renameSources } from "./rename-sources.js";

describe("renameSources", () => {
  // One module wrapped by esbuild, with mapping segments after the name on the key's line:
  // columns 0, 26 and 27 map to columns 0, 5 and 6 of line 1 of the source.
  const code = '// ../node_modules/a.js\n  "../node_modules/a.js"(exports) {\n  }\n';
  const map: RawSourceMap = {
    version: 3,
    sources: ["../node_modules/a.js"],
    sourcesContent: ["exports.a = 1;\n"],
    mappings: ";AAAA,0BAAK,CAAC",
    names: [],
  };
  const rename = new Map([["../node_modules/a.js", "node_modules/a.js"]]);

  test("renames the module comment, the wrapper key and the source", () => {
    const out = renameSources(code, map, rename);
    expect(out.code).toBe('// node_modules/a.js\n  "node_modules/a.js"(exports) {\n  }\n');
    expect(out.map.sources).toEqual(["node_modules/a.js"]);
    expect(out.map.sourcesContent).toEqual(map.sourcesContent);
  });

  test("moves the segments after a renamed name by the change of length", () => {
    const before = new SourceMap(map as never);
    expect(before.findEntry(1, 26)).toMatchObject({ generatedColumn: 26, originalColumn: 5 });
    const after = new SourceMap(renameSources(code, map, rename).map as never);
    expect(after.findEntry(1, 0)).toMatchObject({ generatedColumn: 0, originalColumn: 0 });
    expect(after.findEntry(1, 23)).toMatchObject({ generatedColumn: 23, originalColumn: 5 });
    expect(after.findEntry(1, 24)).toMatchObject({ generatedColumn: 24, originalColumn: 6 });
  });

  test("leaves lines that name no renamed file alone", () => {
    const other = '// lib.ts\n  "lib.ts"(exports) {\n  }\n';
    expect(renameSources(other, map, rename).code).toBe(other);
    expect(renameSources(code, map, new Map())).toEqual({ code, map });
  });
});
