#!/usr/bin/env node
// The `regent` command. Plain JS so npm can link it before the build has run; it runs the bundled CLI
// (bundle/, made by `npm run build` from dist/: see scripts/bundle.mjs).
import { existsSync } from "node:fs";

const bundle = new URL("../bundle/main.js", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("regent: the CLI is not built yet: run `npm run build` in the Regent repository\n");
  process.exit(1);
}
import(bundle.href).then((m) => m.main(process.argv));
