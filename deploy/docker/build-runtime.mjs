#!/usr/bin/env node
// Builds the Regent runtime image (deploy/docker/Dockerfile) from this repository's build:
//   node deploy/docker/build-runtime.mjs [--node-image IMAGE] [--tag TAG] [--push]
// (`npm run image:runtime -- …`). It stages the context — the CLI bundle, the built UI and the packages
// the bundle imports (packages/cli/scripts/externals.mjs), with their dependencies as npm installed them
// here — and runs `docker build`. `npm run build` first. Native addons (better-sqlite3) are this
// machine's build: use a NODE_IMAGE of the same libc (Debian 12, as node:20-bookworm-slim is).
import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { copyPackages, packageClosure } from "@regent/storage";
import { BUNDLE_EXTERNALS, OPTIONAL_EXTERNALS } from "../../packages/cli/scripts/externals.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const cliDir = fileURLToPath(new URL("../../packages/cli/", import.meta.url));
const { version } = JSON.parse(await readFile(join(cliDir, "package.json"), "utf8"));

const { values: args } = parseArgs({
  options: {
    "node-image": { type: "string", default: "node:20-bookworm-slim" },
    tag: { type: "string", default: `regent/runtime:${version}` },
    push: { type: "boolean", default: false },
  },
});
const say = (line) => process.stderr.write(`build-runtime: ${line}\n`);

const context = await mkdtemp(join(tmpdir(), "regent-runtime-"));
try {
  const root = join(context, "regent");
  // The CLI and the UI as built (their own dependencies are inlined in the bundle and dist/), then
  // what the bundle imports, with all those depend on.
  const own = await packageClosure(["@regent/cli", "@regent/ui"], cliDir);
  const selves = own.filter((p) => p.name === "@regent/cli" || p.name === "@regent/ui");
  const imported = await packageClosure(BUNDLE_EXTERNALS, cliDir, { optional: OPTIONAL_EXTERNALS });
  const count = await copyPackages([...selves, ...imported], root);
  say(`staged ${count} packages`);
  await rm(join(root, "node_modules/@regent/cli/src"), { recursive: true, force: true });
  await rm(join(root, "node_modules/@regent/ui/src"), { recursive: true, force: true });
  // `regent` on PATH: CommonJS (no package.json above it says otherwise), so it runs without a shell.
  await mkdir(join(root, "bin"), { recursive: true });
  const bin = join(root, "bin", "regent");
  await writeFile(bin, '#!/usr/bin/env node\nimport("../node_modules/@regent/cli/bin/regent.js");\n');
  await chmod(bin, 0o755);

  const build = [
    "build",
    "--file",
    join(here, "Dockerfile"),
    "--build-arg",
    `NODE_IMAGE=${args["node-image"]}`,
  ];
  build.push("--tag", args.tag, context);
  say(`docker ${build.join(" ")}`);
  const built = spawnSync("docker", build, { stdio: ["ignore", "inherit", "inherit"] });
  if (built.status !== 0) throw new Error(`docker build failed (exit ${built.status ?? built.signal})`);
  if (args.push) {
    const pushed = spawnSync("docker", ["push", args.tag], { stdio: ["ignore", "inherit", "inherit"] });
    if (pushed.status !== 0) throw new Error(`docker push failed (exit ${pushed.status ?? pushed.signal})`);
  }
  say(`built ${args.tag}`);
} catch (error) {
  say(`error: ${error.message}`);
  process.exitCode = 1;
} finally {
  await rm(context, { recursive: true, force: true });
}
