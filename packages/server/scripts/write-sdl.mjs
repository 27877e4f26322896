// Writes the code-first schema's SDL to schema.graphql (committed; a test fails when it drifts).
// Run after `tsc -b`: npm run sdl -w @regent/server
import { writeFileSync } from "node:fs";
import { printSdl } from "../dist/index.js";

writeFileSync(new URL("../schema.graphql", import.meta.url), printSdl());
console.log("wrote packages/server/schema.graphql");
