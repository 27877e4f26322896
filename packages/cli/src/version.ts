import { readFileSync } from "node:fs";

/**
 * This CLI's version, from its package.json. This module sits one folder below the package in src/,
 * dist/ and bundle/ alike (as bin-path.ts does).
 */
export const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
