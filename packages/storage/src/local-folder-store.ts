import { readFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { FlowLoadError, InvalidUsageError } from "@regent/core";
import type { FlowBundle } from "./bundle.js";
import { ensureFile } from "./internal/files.js";
import { sha256 } from "./internal/hash.js";
import type { FlowStore, PutBundleMeta, StoredBundle } from "./store.js";

export interface LocalFolderStoreOptions {
  /** The folder bundles go in; it must be reachable, under any path, where the runs execute. */
  readonly dir: string;
}

const KIND = "local";

/** A flow name as one folder name: `/` and other special characters percent-encoded, never `.` or `..`. */
function folderName(flowName: string): string {
  if (flowName.trim() === "") throw new InvalidUsageError("a bundle needs a flow name to be stored");
  const encoded = encodeURIComponent(flowName);
  return /^\.+$/.test(encoded) ? encoded.replaceAll(".", "%2E") : encoded;
}

/**
 * Keeps bundles in a folder as `<dir>/<flow name>/<sha256>.mjs`. The ref is that path relative to `dir`,
 * so the folder may be mounted elsewhere where runs execute. Writes are atomic (temporary file, then
 * rename); storing a bundle that is there already writes nothing. `get` checks the sha256.
 */
export function localFolderStore(options: LocalFolderStoreOptions): FlowStore {
  const dir = resolve(options.dir);
  const pathOf = (stored: StoredBundle): string => {
    if (stored.kind !== KIND)
      throw new InvalidUsageError(
        `a local folder store cannot read a bundle kept by a "${stored.kind}" store`,
      );
    const path = resolve(dir, stored.ref);
    const rel = relative(dir, path);
    if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel))
      throw new FlowLoadError(`flow bundle ref "${stored.ref}" points outside the store's folder ${dir}`, {
        details: { kind: stored.kind, ref: stored.ref },
      });
    return path;
  };
  return {
    kind: KIND,
    async put(bundle: FlowBundle, meta: PutBundleMeta): Promise<StoredBundle> {
      if (sha256(bundle.code) !== bundle.hash)
        throw new InvalidUsageError(
          `bundle of flow "${meta.flowName}": its hash is not the sha256 of its code`,
        );
      const stored: StoredBundle = {
        kind: KIND,
        ref: `${folderName(meta.flowName)}/${bundle.hash}.mjs`,
        hash: bundle.hash,
      };
      // A file there already is kept when its content is right and replaced when it is not.
      await ensureFile(join(dir, stored.ref), bundle.code);
      return stored;
    },
    async get(stored: StoredBundle): Promise<string> {
      const path = pathOf(stored);
      let code: string;
      try {
        code = await readFile(path, "utf8");
      } catch (error) {
        const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
        throw new FlowLoadError(
          missing
            ? `flow bundle ${stored.ref} is missing from ${dir} (is the store's folder mounted here?)`
            : `cannot read flow bundle ${path}: ${(error as Error).message}`,
          {
            cause: error,
            details: { kind: stored.kind, ref: stored.ref, reason: missing ? "missing" : "unreadable" },
          },
        );
      }
      const actual = sha256(code);
      if (actual !== stored.hash)
        throw new FlowLoadError(
          `flow bundle ${path} was altered or corrupted: its sha256 is ${actual}, the registered bundle's is ${stored.hash}`,
          {
            details: {
              kind: stored.kind,
              ref: stored.ref,
              reason: "hash-mismatch",
              expected: stored.hash,
              actual,
            },
          },
        );
      return code;
    },
  };
}
