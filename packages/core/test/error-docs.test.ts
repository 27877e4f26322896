import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { ERROR_CODES } from "../src/index.js";

test("docs/errors.md lists every error code with its fault", () => {
  const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
  const rows = new Map(
    [...doc.matchAll(/^\| `([A-Z_]+)` \| (user|infrastructure) \|/gm)].map((m) => [m[1], m[2]] as const),
  );
  const expected = new Map(Object.entries(ERROR_CODES).map(([code, c]) => [code, c.fault] as const));
  expect(rows).toEqual(expected);
});
