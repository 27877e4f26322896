import { createHash } from "node:crypto";
import { type CacheEntry, type ResultStorage, toJson } from "./results.js";

export interface S3ResultsOptions {
  readonly bucket: string;
  /** Prepended to every key: `results/` gives `results/<flow run id>/<task run id>.json`. */
  readonly keyPrefix?: string;
  readonly region?: string;
  /** An S3-compatible store (with `forcePathStyle`); credentials are the AWS SDK's, from the environment. */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
}

/**
 * Task results as JSON objects in S3 (`<keyPrefix><flow run id>/<task run id>.json`; the Success state's
 * `resultRef` is `s3://bucket/key`), cache entries under `<keyPrefix>cache/`: where runs on ECS (or
 * anywhere) keep what a restarted run, another run's cache hit, or a person reads later.
 */
export function s3Results(options: S3ResultsOptions): ResultStorage {
  const prefix = options.keyPrefix ?? "";
  let objects: ReturnType<typeof import("./internal/s3-results.js")["s3Objects"]> | undefined;
  const s3 = async () => {
    objects ??= (await import("./internal/s3-results.js")).s3Objects(options);
    return objects;
  };
  const cacheKey = (id: string) =>
    `${prefix}cache/${createHash("sha256").update(id).digest("hex").slice(0, 40)}.json`;
  return {
    kind: "s3",
    async write(flowRunId, taskRunId, value) {
      const text = toJson(value, `the result of task run ${taskRunId}`);
      const key = `${prefix}${flowRunId}/${taskRunId}.json`;
      await (await s3()).put(key, text);
      return `s3://${options.bucket}/${key}`;
    },
    async read(ref) {
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(ref);
      if (!m || m[1] !== options.bucket)
        throw new Error(`${ref} is not an object of bucket ${options.bucket}`);
      const text = await (await s3()).get(m[2]!);
      if (text === undefined) throw new Error(`the result ${ref} is gone`);
      return (JSON.parse(text) as { value: unknown }).value;
    },
    async cacheGet(cacheId) {
      const text = await (await s3()).get(cacheKey(cacheId));
      return text === undefined ? undefined : (JSON.parse(text) as CacheEntry);
    },
    async cacheSet(cacheId, entry) {
      const text = toJson(entry.value, `the cached result for ${cacheId}`, {
        expiresAt: entry.expiresAt ?? null,
      });
      await (await s3()).put(cacheKey(cacheId), text);
    },
  };
}
