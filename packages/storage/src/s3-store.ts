import type { S3Client } from "@aws-sdk/client-s3";
import { FlowLoadError, InvalidUsageError, type S3Storage } from "@regent/core";
import type { FlowBundle } from "./bundle.js";
import { sha256 } from "./internal/hash.js";
import type { FlowStore, PutBundleMeta, StoredBundle } from "./store.js";

export interface S3StoreOptions {
  readonly storage: S3Storage;
  /** A client of one's own (tests); default: one from the storage's region and endpoint and the environment. */
  readonly client?: S3Client | undefined;
}

const KIND = "s3";

/**
 * Keeps bundles in S3 as `<keyPrefix><flow name>/<sha256>.mjs` (the ref). A bundle there already (HEAD
 * answers) is not uploaded again; `get` checks the sha256 of what it reads. Errors name the bucket and
 * key, with S3's reason (AccessDenied, NoSuchBucket, …).
 */
export function s3Store(options: S3StoreOptions): FlowStore {
  const { storage } = options;
  let client: S3Client | undefined;
  const sdk = async () => {
    const loaded = await import("./internal/s3-client.js");
    client ??= options.client ?? loaded.s3ClientFor(storage);
    return { ...loaded, client };
  };
  const where = (key: string) => `s3://${storage.bucket}/${key}`;
  const failed = (what: string, key: string, error: unknown) =>
    new FlowLoadError(`${what} ${where(key)} failed: ${describe(error)}`, {
      cause: error,
      details: { bucket: storage.bucket, key },
    });
  return {
    kind: KIND,
    async put(bundle: FlowBundle, meta: PutBundleMeta): Promise<StoredBundle> {
      if (sha256(bundle.code) !== bundle.hash)
        throw new InvalidUsageError(
          `bundle of flow "${meta.flowName}": its hash is not the sha256 of its code`,
        );
      const key = `${storage.keyPrefix ?? ""}${encodeURIComponent(meta.flowName)}/${bundle.hash}.mjs`;
      const { HeadObjectCommand, PutObjectCommand, client } = await sdk();
      const there = await client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key })).then(
        () => true,
        (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
          if (error.name === "NotFound" || error.$metadata?.httpStatusCode === 404) return false;
          throw failed("reading", key, error);
        },
      );
      if (!there)
        await client
          .send(
            new PutObjectCommand({
              Bucket: storage.bucket,
              Key: key,
              Body: bundle.code,
              ContentType: "text/javascript; charset=utf-8",
              Metadata: { "regent-sha256": bundle.hash },
            }),
          )
          .catch((error: unknown) => {
            throw failed("uploading the bundle to", key, error);
          });
      return { kind: KIND, ref: key, hash: bundle.hash };
    },
    async get(stored: StoredBundle): Promise<string> {
      if (stored.kind !== KIND)
        throw new InvalidUsageError(`an S3 store cannot read a bundle kept by a "${stored.kind}" store`);
      const { GetObjectCommand, client } = await sdk();
      let code: string;
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: stored.ref }));
        code = (await object.Body?.transformToString("utf-8")) ?? "";
      } catch (error) {
        throw failed("reading", stored.ref, error);
      }
      const got = sha256(code);
      if (got !== stored.hash)
        throw new FlowLoadError(`${where(stored.ref)} is not bundle ${stored.hash} (its sha256 is ${got})`, {
          details: { hash: stored.hash, got },
        });
      return code;
    },
  };
}

/** S3's reason: its error code and message (`AccessDenied: Access Denied`), else the error's message. */
function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; Code?: string };
  const code = e.Code ?? e.name;
  return code && code !== "Error" && !e.message?.startsWith(code)
    ? `${code}: ${e.message}`
    : String(e.message);
}
