import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DOCKER_FLOW_DIR, FlowLoadError, InvalidUsageError } from "@regent/core";
import { ensureFile, writeFileAtomic } from "./internal/files.js";
import { sha256 } from "./internal/hash.js";

export interface LoadBundleOptions {
  /**
   * A folder to write the bundle in. Packages the bundle leaves out (native ones) are resolved from here
   * upwards, as Node does: choose a folder below the `node_modules` that has them (e.g.
   * `<app>/node_modules/.cache/regent/bundles`).
   */
  readonly dir: string;
  /** The URL of the SDK the bundle must use, normally the caller's own: `import.meta.resolve("@regent/sdk")`. */
  readonly sdkUrl: string;
}

/**
 * Imports a bundle made by `bundleFlow` and returns its module namespace (the flow is its `default`).
 *
 * The code is written unchanged to `<dir>/<key>/<sha256>.mjs`, beside a two-file package
 * `<dir>/<key>/node_modules/@regent/sdk` that re-exports `sdkUrl` (`<key>` is derived from `sdkUrl`). Node
 * resolves the bundle's `import … from "@regent/sdk"` to that package, so flow and caller share one SDK
 * module instance, the inline source map still matches the code, and the bundle's hash stays that of the
 * file. The same code is written once and, within a process, imported once.
 */
export async function loadBundle(code: string, options: LoadBundleOptions): Promise<Record<string, unknown>> {
  const home = await bundleHome(options);
  const file = join(home, `${sha256(code)}.mjs`);
  await ensureFile(file, code);
  return importBundle(file);
}

/**
 * `loadBundle` for a bundle known by its hash (a bundle's hash is the sha256 of its code): a bundle that
 * an earlier load wrote to the same `dir` is imported from there without calling `fetch`, so a run of
 * an unchanged flow does not download it again. Returns undefined when `fetch` finds no bundle; throws a
 * FlowLoadError when what it returns does not have that hash.
 */
export async function loadBundleByHash(
  hash: string,
  fetch: () => Promise<string | undefined>,
  options: LoadBundleOptions,
): Promise<Record<string, unknown> | undefined> {
  if (!/^[0-9a-f]{64}$/.test(hash))
    throw new InvalidUsageError(`a bundle hash is 64 lowercase hex digits (sha256), got "${hash}"`);
  const home = await bundleHome(options);
  const file = join(home, `${hash}.mjs`);
  if (!existsSync(file)) {
    const code = await fetch();
    if (code === undefined) return undefined;
    const got = sha256(code);
    if (got !== hash)
      throw new FlowLoadError(`storage returned other code for bundle ${hash} (its sha256 is ${got})`, {
        details: { hash, got },
      });
    await writeFileAtomic(file, code);
  }
  return importBundle(file);
}

/** `<dir>/<key>/`, with the `@regent/sdk` package that re-exports `sdkUrl` below it. */
async function bundleHome(options: LoadBundleOptions): Promise<string> {
  let sdk: URL;
  try {
    sdk = new URL(options.sdkUrl);
  } catch {
    throw new InvalidUsageError(
      `loadBundle: sdkUrl must be a URL such as import.meta.resolve("@regent/sdk"), got "${options.sdkUrl}"`,
    );
  }
  const home = join(resolve(options.dir), sha256(sdk.href).slice(0, 16));
  const shim = join(home, "node_modules", "@regent", "sdk");
  await ensureFile(
    join(shim, "package.json"),
    `${JSON.stringify({ name: "@regent/sdk", private: true, type: "module", exports: "./index.mjs" }, null, 2)}\n`,
  );
  await ensureFile(join(shim, "index.mjs"), `export * from ${JSON.stringify(sdk.href)};\n`);
  return home;
}

async function importBundle(file: string): Promise<Record<string, unknown>> {
  // Stack traces from the flow then name its TypeScript sources (the bundle's inline source map). Only
  // modules loaded from here on pay for it, so processes that never load a flow keep their memory.
  process.setSourceMapsEnabled(true);
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new FlowLoadError(
      `the flow bundle ${file} failed while loading: ${(error as Error).stack ?? String(error)}`,
      {
        cause: error,
        details: { file },
      },
    );
  }
}

/**
 * Imports the bundle a Docker storage image holds (`<dir>/<hash>.mjs`, put there at `regent register`):
 * in place, so that its native packages (`<dir>/node_modules`) and the runtime's SDK (the image's
 * `/opt/regent/node_modules`) resolve as they were laid out. Undefined when the image has no such
 * file (the run is not in its flow's image); a FlowLoadError when the file is not that bundle.
 */
export async function loadImageBundle(
  hash: string,
  dir: string = DOCKER_FLOW_DIR,
): Promise<Record<string, unknown> | undefined> {
  const file = join(dir, `${hash}.mjs`);
  let code: string;
  try {
    code = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  const got = sha256(code);
  if (got !== hash)
    throw new FlowLoadError(`${file} in the image is not bundle ${hash} (its sha256 is ${got})`, {
      details: { hash, got },
    });
  return importBundle(file);
}
