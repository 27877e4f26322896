import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { NotSerializableError } from "@regent/core";

export interface CacheEntry {
  readonly value: unknown;
  /** Epoch ms after which the entry is stale; absent: never. */
  readonly expiresAt?: number | undefined;
}

/** Where task results (and cache entries) are kept beyond the memory of the run. */
export interface ResultStorage {
  readonly kind: string;
  /** Persists a task run's result; returns a reference kept in the run's Success state. */
  write(flowRunId: string, taskRunId: string, value: unknown): Promise<string>;
  read(ref: string): Promise<unknown>;
  cacheGet(cacheId: string): Promise<CacheEntry | undefined>;
  cacheSet(cacheId: string, entry: CacheEntry): Promise<void>;
}

/**
 * JSON text of `{ value, ...extra }`, refusing what JSON would silently drop or cannot hold (functions,
 * cycles…).
 */
export function toJson(value: unknown, what: string, extra?: Record<string, unknown>): string {
  try {
    return JSON.stringify({ value, ...extra }, (_key, v: unknown) => {
      if (typeof v === "function" || typeof v === "symbol") throw new TypeError(`a ${typeof v} is not JSON`);
      if (typeof v === "bigint") throw new TypeError("a bigint is not JSON");
      return v;
    });
  } catch (error) {
    throw new NotSerializableError(what, error);
  }
}

const fileName = (id: string) => `${createHash("sha256").update(id).digest("hex").slice(0, 40)}.json`;

let writes = 0;

async function writeAtomic(path: string, text: string): Promise<void> {
  // Unique per write: concurrent writes of one path (task runs sharing a cache key) must not share it.
  const tmp = `${path}.${process.pid}.${++writes}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Results as JSON files under `dir/<flow run id>/`, cache entries under `dir/cache/`. */
export function localResults(options: { dir: string }): ResultStorage {
  const dir = resolve(options.dir);
  return {
    kind: "local",
    async write(flowRunId, taskRunId, value) {
      const text = toJson(value, `the result of task run ${taskRunId}`);
      const folder = join(dir, flowRunId);
      await mkdir(folder, { recursive: true });
      const path = join(folder, `${taskRunId}.json`);
      await writeAtomic(path, text);
      return path;
    },
    async read(ref) {
      return (JSON.parse(await readFile(ref, "utf8")) as { value: unknown }).value;
    },
    async cacheGet(cacheId) {
      try {
        return JSON.parse(await readFile(join(dir, "cache", fileName(cacheId)), "utf8")) as CacheEntry;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async cacheSet(cacheId, entry) {
      // One stringify: splicing `expiresAt` into the text made `{,"expiresAt":…}` of an undefined value.
      const expiresAt = entry.expiresAt ?? null;
      const text = toJson(entry.value, `the cached result for ${cacheId}`, { expiresAt });
      await mkdir(join(dir, "cache"), { recursive: true });
      await writeAtomic(join(dir, "cache", fileName(cacheId)), text);
    },
  };
}

/** The default: results stay in memory; the cache lives as long as the process. */
export function memoryResults(): ResultStorage {
  const results = new Map<string, unknown>();
  return {
    kind: "memory",
    async write(_flowRunId, taskRunId, value) {
      results.set(taskRunId, value);
      return `memory:${taskRunId}`;
    },
    async read(ref) {
      return results.get(ref.slice("memory:".length));
    },
    async cacheGet(cacheId) {
      return processCache.get(cacheId);
    },
    async cacheSet(cacheId, entry) {
      processCache.set(cacheId, entry);
    },
  };
}

const processCache = new Map<string, CacheEntry>();
