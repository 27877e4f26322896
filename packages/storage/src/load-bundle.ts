import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { FlowLoadError, InvalidUsageError } from "@regent/core";
import { ensureFile } from "./internal/files.js";
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
  const file = join(home, `${sha256(code)}.mjs`);
  await ensureFile(file, code);
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
