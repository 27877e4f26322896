import { cp, readFile, realpath } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve, sep } from "node:path";
import { FlowLoadError } from "@regent/core";
import { packageDir } from "./internal/native-packages.js";

/** One installed package of a closure, and where it goes in the copy's `node_modules` tree. */
export interface ClosurePackage {
  readonly name: string;
  readonly version: string;
  /** Its folder here (symlinks resolved). */
  readonly dir: string;
  /** Its folder in the copy, relative to the copy's root: `node_modules/a`, `node_modules/a/node_modules/b`. */
  readonly dest: string;
}

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** Files of a package a copy leaves out: what only its development needs. */
const SKIPPED = new Set(["node_modules", ".git", "test", "tests", "__tests__", ".turbo", "coverage"]);

async function readJson(file: string): Promise<PackageJson> {
  return JSON.parse(await readFile(file, "utf8")) as PackageJson;
}

/** The folder of package `name` as Node would find it from `fromDir`, or undefined when it is not installed. */
async function resolvePackage(name: string, fromDir: string): Promise<string | undefined> {
  const require = createRequire(join(fromDir, "__regent_resolve__.js"));
  for (const request of [`${name}/package.json`, name]) {
    try {
      const file = require.resolve(request);
      const dir = request === name ? await packageDir(file, name) : dirname(file);
      if (dir) return await realpath(dir);
    } catch {
      // `exports` may hide package.json or the main entry: try the other
    }
  }
  // Neither is exported (an ESM-only package with `exports` but no `require` condition): walk up as Node does.
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    try {
      await readFile(join(candidate, "package.json"));
      return await realpath(candidate);
    } catch {
      // not here
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The packages `names` and everything they depend on at run time (`dependencies` and the installed
 * `optionalDependencies`), as Node resolves them from `fromDir`, laid out as a `node_modules` tree in
 * which Node resolves each the same way: a package is hoisted to the top unless another version of it
 * is there already, then it is nested under the package that needs it. Packages named in `optional`
 * (and those dependencies list as optional) are left out when they are not installed.
 * Throws a FlowLoadError naming the package when a required one is not installed.
 */
export async function packageClosure(
  names: readonly string[],
  fromDir: string,
  options: { optional?: readonly string[] } = {},
): Promise<ClosurePackage[]> {
  const placed = new Map<string, ClosurePackage>(); // by dest
  const byDir = new Map<string, ClosurePackage>();
  const queue: Array<{
    name: string;
    from: string;
    parentDest: string;
    optional: boolean;
    neededBy: string;
  }> = [
    ...names.map((name) => ({ name, optional: false })),
    ...(options.optional ?? []).map((name) => ({ name, optional: true })),
  ].map((want) => ({ ...want, from: resolve(fromDir), parentDest: "", neededBy: fromDir }));
  while (queue.length > 0) {
    const want = queue.shift()!;
    const dir = await resolvePackage(want.name, want.from);
    if (!dir) {
      if (want.optional) continue;
      throw new FlowLoadError(
        `the package "${want.name}" (needed by ${want.neededBy}) is not installed: run npm install where the flow is`,
        { details: { package: want.name } },
      );
    }
    const dest = placement(placed, want.parentDest, want.name, dir);
    if (placed.get(dest)?.dir === dir) continue;
    const json = await readJson(join(dir, "package.json"));
    const pkg: ClosurePackage = { name: want.name, version: json.version ?? "0.0.0", dir, dest };
    placed.set(dest, pkg);
    if (byDir.has(dir) && byDir.get(dir)!.dest !== dest) continue; // its dependencies are queued already
    byDir.set(dir, pkg);
    for (const [deps, optional] of [
      [json.dependencies, false],
      [json.optionalDependencies, true],
    ] as const)
      for (const name of Object.keys(deps ?? {}))
        queue.push({ name, from: dir, parentDest: dest, optional, neededBy: want.name });
  }
  return [...placed.values()].sort((a, b) => a.dest.localeCompare(b.dest));
}

/**
 * Where package `name` (in `dir`) goes for the package at `parentDest`: as high up the parent's chain of
 * `node_modules` folders as no other version of it is in the way, so that Node, resolving from the
 * parent, finds this one first. Shallower requesters are placed first (breadth first), so a version
 * placed later does not come between a package and the one it was given.
 */
function placement(
  placed: ReadonlyMap<string, ClosurePackage>,
  parentDest: string,
  name: string,
  dir: string,
): string {
  const chain = [""];
  for (
    let at = parentDest.indexOf("node_modules/");
    at >= 0;
    at = parentDest.indexOf("node_modules/", at + 1)
  ) {
    const end = parentDest.indexOf("/node_modules/", at + "node_modules/".length);
    chain.push(end < 0 ? parentDest : parentDest.slice(0, end));
  }
  let best = `${chain[chain.length - 1] ? `${chain[chain.length - 1]}/` : ""}node_modules/${name}`;
  for (let i = chain.length - 1; i >= 0; i--) {
    const candidate = `${chain[i] ? `${chain[i]}/` : ""}node_modules/${name}`;
    const there = placed.get(candidate);
    if (there) return there.dir === dir ? candidate : best;
    best = candidate;
  }
  return best;
}

/** Copies a closure's packages under `root` (their development files left out); returns how many. */
export async function copyPackages(packages: readonly ClosurePackage[], root: string): Promise<number> {
  for (const pkg of packages)
    await cp(pkg.dir, join(root, ...pkg.dest.split("/")), {
      recursive: true,
      dereference: true,
      filter: (source) => {
        if (source === pkg.dir) return true;
        const relative = source.slice(pkg.dir.length + 1);
        const first = relative.split(sep)[0]!;
        return !SKIPPED.has(first) && !basename(source).endsWith(".tsbuildinfo");
      },
    });
  return packages.length;
}
