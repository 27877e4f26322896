#!/usr/bin/env node
// The `regent` command. Kept as plain JS so npm can link it before the TypeScript build has run.
import("../dist/main.js").then((m) => m.main(process.argv));
