#!/usr/bin/env node
// Bundles the built CLI (dist/) into bundle/, the code `bin/regent.js` runs. One process then loads a
// few split files instead of ~900 modules: `regent server start` idles at about two thirds of the
// memory (see bench/README.md), and every command starts sooner.
//
// Left as imports: BUNDLE_EXTERNALS (externals.mjs says which and why).
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { BUNDLE_EXTERNALS, OPTIONAL_EXTERNALS } from "./externals.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = `${root}bundle`;

await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: "dist/main.js" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Whitespace and syntax only: stack traces keep their function names. Not `keepNames`: it wraps every
  // function made at run time in a call that sets its name (GraphQL's executor makes several per field
  // it resolves: 3–4 % of a busy server's time).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  external: [...BUNDLE_EXTERNALS, ...OPTIONAL_EXTERNALS],
  // Bundled CommonJS packages call require() for Node built-ins.
  banner: {
    js: 'import { createRequire as __regentCreateRequire } from "node:module"; const require = __regentCreateRequire(import.meta.url);',
  },
  logLevel: "warning",
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
if (process.argv.includes("--verbose"))
  process.stdout.write(
    `bundle/: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1e6).toFixed(1)} MB\n`,
  );
