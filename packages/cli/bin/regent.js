#!/usr/bin/env node
// The `regent` command. Plain JS so npm can link it before the build has run; it runs the bundled CLI
// (bundle/, made by `npm run build` from dist/: see scripts/bundle.mjs).
import("../bundle/main.js").then(
  (m) => m.main(process.argv),
  (error) => {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("bundle")) throw error;
    process.stderr.write("regent: the CLI is not built yet: run `npm run build` in the Regent repository\n");
    process.exit(1);
  },
);
