import type { Dirent } from "node:fs";
import { access, readdir, readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** The package a bare import names: `zod` for `zod/v4`, `@scope/name` for `@scope/name/sub`. */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

async function readPackageJson(dir: string): Promise<Record<string, unknown> | undefined> {
  try {
    const json: unknown = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
    return json !== null && typeof json === "object" ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The folder of package `name`, which `file` (a resolved import of it) lies in: the nearest folder above
 * `file` whose package.json is named `name`, or the package's folder right below a `node_modules`.
 * Undefined when `file` is not in a package (e.g. a tsconfig `paths` alias to the project's own code).
 */
export async function packageDir(file: string, name: string): Promise<string | undefined> {
  let dir = dirname(file);
  for (;;) {
    if (basename(dir) === "node_modules") return undefined;
    if ((await readPackageJson(dir))?.name === name) return dir;
    const parent = dirname(dir);
    if (basename(parent) === "node_modules") return dir;
    if (basename(dirname(parent)) === "node_modules" && basename(parent).startsWith("@")) return dir;
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** How far the search for `.node` files goes into a package (its own files, not its node_modules). */
const SCAN_MAX_DEPTH = 6;
const SCAN_MAX_ENTRIES = 20_000;

async function containsAddon(dir: string): Promise<boolean> {
  let level = [dir];
  let seen = 0;
  for (let depth = 0; depth <= SCAN_MAX_DEPTH && level.length > 0; depth++) {
    const next: string[] = [];
    for (const folder of level) {
      let entries: Dirent[];
      try {
        entries = await readdir(folder, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (++seen > SCAN_MAX_ENTRIES) return false;
        if (entry.isFile() && entry.name.endsWith(".node")) return true;
        if (entry.isDirectory() && entry.name !== "node_modules" && !entry.name.startsWith("."))
          next.push(join(folder, entry.name));
      }
    }
    level = next;
  }
  return false;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Whether a package contains a native addon, which cannot be bundled: its package.json says
 * `"gypfile": true`, it has a `binding.gyp`, or a compiled `.node` file lies among its own files
 * (`build/Release/*.node`, `prebuilds/<platform>/*.node`, …).
 */
export async function isNativePackage(dir: string): Promise<boolean> {
  if ((await readPackageJson(dir))?.gypfile === true) return true;
  if (await exists(join(dir, "binding.gyp"))) return true;
  return containsAddon(dir);
}
