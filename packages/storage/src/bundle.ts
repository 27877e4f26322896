import { realpath, stat } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { delimiter, dirname, join, resolve } from "node:path";
import { FlowLoadError } from "@regent/core";
import type { Message, Metafile, OutputFile, Plugin } from "esbuild";
import { formatMessages } from "./internal/format-messages.js";
import { sha256 } from "./internal/hash.js";
import { isNativePackage, packageDir, packageName } from "./internal/native-packages.js";
import { portablePath } from "./internal/portable-path.js";
import { type RawSourceMap, renameSources } from "./internal/rename-sources.js";

/** A flow file and everything it imports, as one ES module that needs only its `externals` to run. */
export interface FlowBundle {
  /** The ES module, with its source map inline (so stack traces name the TypeScript sources). */
  readonly code: string;
  /** sha256 of `code` (hex): the same sources and dependencies give the same hash, wherever they are. */
  readonly hash: string;
  /** The flow file, relative to the bundle's root (by default the flow file's folder). */
  readonly entry: string;
  /** Every file in the bundle, sorted; packages' files as `node_modules/<package>/…` (see README). */
  readonly inputs: readonly string[];
  /** What the bundle imports and does not contain, sorted: the SDK and native packages (not Node built-ins). */
  readonly externals: readonly string[];
  /** The packages left out because they contain native addons; they must be installed where it runs. */
  readonly nativeExternals: readonly string[];
  /** Size of `code` in bytes (UTF-8). */
  readonly sizeBytes: number;
}

export interface BundleFlowOptions {
  /**
   * How the bundle imports the SDK. The default, `@regent/sdk`, is resolved where the bundle runs
   * (`loadBundle` points it at the runtime's own SDK).
   */
  readonly sdkSpecifier?: string;
  /** The folder the paths in the bundle and its source map are relative to; default: the flow file's. */
  readonly root?: string;
}

const SDK_SPECIFIER = "@regent/sdk";

/** Bundled CommonJS dependencies may call require() (e.g. for Node built-ins); ES modules have none. */
const BANNER =
  'import { createRequire as __regentCreateRequire } from "node:module"; const require = __regentCreateRequire(import.meta.url);';

/** esbuild needs an output path to make an external source map; nothing is written there. */
const OUT_NAME = "__regent_bundle__.mjs";

/** What esbuild's `sourcemap: "inline"` writes; split so that tools reading this file do not take it for its own. */
const INLINE_SOURCE_MAP = `//# ${"sourceMappingURL"}=data:application/json;base64,`;

/** Marks resolutions the plugin asks esbuild for itself, so it does not see them again. */
const INNER = Symbol("regent-inner-resolve");

/**
 * Bundles a flow file and all it imports into one self-contained ES module (Node 20), with an inline
 * source map. Pure-JavaScript dependencies are inlined; `@regent/sdk` stays an import (the runtime
 * provides it), and so do packages with native addons, which are listed in `nativeExternals`.
 * Throws a `FlowLoadError` when the file is missing or does not compile (`file:line:col: error: …`).
 */
export async function bundleFlow(file: string, options: BundleFlowOptions = {}): Promise<FlowBundle> {
  const path = await flowFilePath(file);
  const root = await realpath(resolve(options.root ?? dirname(path))).catch((error: unknown) => {
    throw new FlowLoadError(`the bundle root ${options.root} is not a folder`, { cause: error });
  });
  const natives = new Set<string>();
  const { build } = await import("esbuild");
  let output: { js: OutputFile; map: OutputFile; metafile: Metafile };
  try {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [path],
      outfile: join(root, OUT_NAME),
      bundle: true,
      write: false,
      metafile: true,
      platform: "node",
      format: "esm",
      target: "node20",
      sourcemap: "external",
      sourcesContent: true,
      logLevel: "silent",
      // As Node does, NODE_PATH names extra folders to find packages in.
      nodePaths: process.env.NODE_PATH ? process.env.NODE_PATH.split(delimiter).filter(Boolean) : [],
      banner: { js: BANNER },
      plugins: [externalsPlugin(options.sdkSpecifier ?? SDK_SPECIFIER, natives)],
    });
    const js = result.outputFiles.find((f) => f.path.endsWith(".mjs"));
    const map = result.outputFiles.find((f) => f.path.endsWith(".mjs.map"));
    if (!js || !map) throw new Error("esbuild returned no bundle");
    output = { js, map, metafile: result.metafile };
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    if (errors?.length)
      throw new FlowLoadError(`${file} does not compile:\n${formatMessages(errors, root)}`, {
        cause: error,
        details: { file },
      });
    throw new FlowLoadError(`cannot bundle ${file}: ${(error as Error).message}`, {
      cause: error,
      details: { file },
    });
  }

  // esbuild names files relative to `root`; those outside it get names that do not depend on where the
  // project or its node_modules are (see portablePath), in the code and in the source map.
  const rename = new Map<string, string>();
  const inputs = new Set<string>();
  for (const input of Object.keys(output.metafile.inputs)) {
    const name = input.startsWith("../") ? portablePath(resolve(root, input), root) : input;
    if (name !== input) rename.set(input, name);
    inputs.add(name);
  }
  const renamed = renameSources(output.js.text, JSON.parse(output.map.text) as RawSourceMap, rename);
  const code = `${renamed.code}${INLINE_SOURCE_MAP}${Buffer.from(JSON.stringify(renamed.map)).toString("base64")}\n`;

  const externals = new Set<string>();
  for (const out of Object.values(output.metafile.outputs))
    for (const imported of out.imports)
      if (imported.external && !isBuiltin(imported.path))
        externals.add(/^[a-z][a-z\d+.-]*:/i.test(imported.path) ? imported.path : packageName(imported.path));

  return {
    code,
    hash: sha256(code),
    entry: portablePath(path, root),
    inputs: [...inputs].sort(),
    externals: [...externals].sort(),
    nativeExternals: [...natives].sort(),
    sizeBytes: Buffer.byteLength(code),
  };
}

async function flowFilePath(file: string): Promise<string> {
  let path: string;
  try {
    path = await realpath(resolve(file));
  } catch (error) {
    throw new FlowLoadError(`cannot read flow file ${file}: no such file`, {
      cause: error,
      details: { file },
    });
  }
  if (!(await stat(path)).isFile())
    throw new FlowLoadError(`cannot read flow file ${file}: not a file`, { details: { file } });
  return path;
}

/**
 * `@regent/sdk` becomes an import of `sdkSpecifier`; a bare import that resolves into a package with a
 * native addon stays an import (and is recorded in `natives`); everything else is left to esbuild.
 */
function externalsPlugin(sdkSpecifier: string, natives: Set<string>): Plugin {
  return {
    name: "regent-externals",
    setup(build) {
      const native = new Map<string, Promise<boolean>>();
      build.onResolve({ filter: /^@regent\/sdk$/ }, () => ({ path: sdkSpecifier, external: true }));
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === INNER || isBuiltin(args.path) || /^[a-z][a-z\d+.-]*:/i.test(args.path))
          return undefined;
        const found = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          namespace: args.namespace,
          resolveDir: args.resolveDir,
          pluginData: INNER,
        });
        if (found.errors.length > 0 || found.external || found.namespace !== "file") return undefined;
        const name = packageName(args.path);
        const dir = await packageDir(found.path, name);
        if (!dir) return undefined;
        let isNative = native.get(dir);
        if (!isNative) {
          isNative = isNativePackage(dir);
          native.set(dir, isNative);
        }
        if (!(await isNative)) return undefined;
        natives.add(name);
        return { path: args.path, external: true };
      });
    },
  };
}
