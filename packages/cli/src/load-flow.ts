import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { FlowLoadError, FlowNotFoundError } from "@regent/core";
import { type Flow, isFlow } from "@regent/sdk";
import type { Message } from "esbuild";

export type AnyFlow = Flow<never, unknown>;

export interface LoadedFlow {
  readonly flow: AnyFlow;
  readonly file: string;
  /** The bundled module the flow ran from (also what pool workers import). */
  readonly bundleUrl: string;
}

// The flow must use this CLI's own copy of the SDK, so the engine and the flow share one module.
const SDK_URL = import.meta.resolve("@regent/sdk");

function formatMessages(messages: readonly Message[]): string {
  return messages
    .map((m) => {
      const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : "";
      const code = m.location?.lineText
        ? `\n    ${m.location.lineText}\n    ${" ".repeat(m.location.column)}^`
        : "";
      return `${where}error: ${m.text}${code}`;
    })
    .join("\n");
}

/**
 * A folder for bundles of the flow file at `flowPath`, named `name`: below the nearest `node_modules`
 * (its `.cache/regent/<name>`), where a bundle's external imports (native packages) resolve to the
 * project's own packages, as if the file had been compiled in place; with no `node_modules` above the
 * file, a temporary folder (`inProject` false).
 */
export function projectCacheDir(flowPath: string, name: string): { dir: string; inProject: boolean } {
  for (let dir = dirname(resolve(flowPath)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "node_modules")))
      return { dir: join(dir, "node_modules", ".cache", "regent", name), inProject: true };
    if (dirname(dir) === dir) break;
  }
  return { dir: join(tmpdir(), `regent-${process.getuid?.() ?? "user"}`, name), inProject: false };
}

const TYPESCRIPT = /\.[cm]?tsx?$/;

/** What a cached bundle was made from: every input file with its size and modification time. */
interface BundleIndex {
  readonly bundle: string;
  readonly sdk: string;
  readonly inputs: Record<string, string>;
}

const fingerprint = async (path: string) => {
  const s = await stat(path);
  return `${s.size}:${s.mtimeMs}`;
};

/** A bundle made earlier from exactly the same input files, if there is one (saves starting esbuild). */
async function cachedBundle(indexPath: string): Promise<string | undefined> {
  try {
    const index = JSON.parse(await readFile(indexPath, "utf8")) as BundleIndex;
    if (index.sdk !== SDK_URL) return undefined;
    for (const [input, print] of Object.entries(index.inputs))
      if ((await fingerprint(input)) !== print) return undefined;
    await stat(index.bundle);
    return index.bundle;
  } catch {
    return undefined;
  }
}

/**
 * Bundles a TypeScript (or JavaScript) flow file with esbuild into one ES module, no separate build step.
 * The bundle is reused while none of the files it was made from has changed.
 */
export async function bundleFlowFile(file: string): Promise<string> {
  const path = resolve(file);
  try {
    if (!(await stat(path)).isFile()) throw new Error("not a file");
  } catch {
    throw new FlowLoadError(`cannot read flow file ${file}: no such file`);
  }
  // In a project, installed packages stay imports; with none, the bundle holds all.
  const { dir, inProject: externals } = projectCacheDir(path, "bundles");
  const indexPath = join(dir, `${createHash("sha256").update(path).digest("hex").slice(0, 16)}.index.json`);
  const cached = await cachedBundle(indexPath);
  if (cached) return cached;
  const { build } = await import("esbuild");
  let code: string;
  let inputs: string[];
  try {
    const out = await build({
      metafile: true,
      entryPoints: [path],
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      target: "node20",
      sourcemap: "inline",
      logLevel: "silent",
      // As Node does, NODE_PATH names extra folders to find packages in.
      nodePaths: process.env.NODE_PATH ? process.env.NODE_PATH.split(delimiter).filter(Boolean) : [],
      // Bundled CommonJS dependencies may call require() for Node built-ins.
      banner: {
        js: 'import { createRequire as __regentCreateRequire } from "node:module"; const require = __regentCreateRequire(import.meta.url);',
      },
      plugins: [
        {
          name: "regent-sdk",
          setup(b) {
            b.onResolve({ filter: /^@regent\/sdk$/ }, () => ({ path: SDK_URL, external: true }));
            if (!externals) return;
            // Installed JavaScript packages load from node_modules at run time; TypeScript ones (e.g. a
            // workspace package exporting .ts) are bundled, since Node cannot load them.
            b.onResolve({ filter: /^[^./]/ }, async (args) => {
              if (args.pluginData === "regent-inner" || args.path.startsWith("node:")) return undefined;
              const found = await b.resolve(args.path, {
                kind: args.kind,
                resolveDir: args.resolveDir,
                importer: args.importer,
                pluginData: "regent-inner",
              });
              if (found.errors.length > 0 || found.external || TYPESCRIPT.test(found.path)) return undefined;
              return { path: args.path, external: true };
            });
          },
        },
      ],
    });
    code = out.outputFiles[0]!.text;
    inputs = Object.keys(out.metafile.inputs).map((p) => resolve(p));
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    if (errors?.length) {
      for (const m of errors) if (m.location) m.location.file = displayPath(m.location.file);
      throw new FlowLoadError(`${file} does not compile:\n${formatMessages(errors)}`, { cause: error });
    }
    throw new FlowLoadError(`cannot bundle ${file}: ${(error as Error).message}`, { cause: error });
  }
  const hash = createHash("sha256").update(path).update(code).digest("hex").slice(0, 16);
  await mkdir(dir, { recursive: true });
  const out = join(dir, `${hash}.mjs`);
  await writeFile(out, code);
  const index: BundleIndex = { bundle: out, sdk: SDK_URL, inputs: {} };
  for (const input of inputs) index.inputs[input] = await fingerprint(input);
  await writeFile(indexPath, JSON.stringify(index));
  return out;
}

/** A path relative to the working directory when it lies below it, else absolute. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel.startsWith("..") ? resolve(file) : rel;
}

/** Bundles and imports a flow file and returns its default-exported flow. */
export async function loadFlowFile(file: string): Promise<LoadedFlow> {
  const bundle = await bundleFlowFile(file);
  const bundleUrl = pathToFileURL(bundle).href;
  let mod: Record<string, unknown>;
  // Stack traces from the flow name its TypeScript sources (the bundle's inline source map).
  process.setSourceMapsEnabled(true);
  try {
    mod = (await import(bundleUrl)) as Record<string, unknown>;
  } catch (error) {
    throw new FlowLoadError(`${file} failed while loading: ${(error as Error).stack ?? String(error)}`, {
      cause: error,
    });
  }
  if (isFlow(mod.default)) return { flow: mod.default as AnyFlow, file, bundleUrl };
  const named = Object.entries(mod)
    .filter(([, v]) => isFlow(v))
    .map(([k]) => k);
  const hint = named.length
    ? ` It exports ${named.map((n) => `"${n}"`).join(", ")}: add \`export default ${named[0]};\`.`
    : ' Add `export default flow({ name: "..." }, async (params) => { ... });`.';
  throw new FlowNotFoundError(`${file} has no default export that is a flow.${hint}`, { file });
}
