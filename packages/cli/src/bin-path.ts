import { fileURLToPath } from "node:url";

/**
 * The `regent` command itself (bin/regent.js), for the processes the CLI starts (the agent's
 * `execute flow-run`). This module sits one folder below the package in src/, dist/ and bundle/ alike.
 */
export const REGENT_BIN = fileURLToPath(new URL("../bin/regent.js", import.meta.url));
