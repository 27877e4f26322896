import { createHash } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { FlowLoadError, s3Storage } from "@regent/core";
import { type S3Server, startS3Server } from "@regent/testkit/s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type FlowBundle, s3Store } from "../src/index.js";

// The S3 store against a real S3-compatible server on loopback (s3rver), through the official client.

let s3: S3Server;
let client: S3Client;
beforeAll(async () => {
  s3 = await startS3Server(["flows"]);
  Object.assign(process.env, s3.env);
  client = new S3Client({
    endpoint: s3.url,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
});
afterAll(async () => {
  await s3?.close();
});

const bundle = (code: string): FlowBundle => {
  const hash = createHash("sha256").update(code).digest("hex");
  return {
    code,
    hash,
    entry: "f.ts",
    inputs: ["f.ts"],
    externals: [],
    nativeExternals: [],
    sizeBytes: code.length,
  };
};

describe("s3Store", () => {
  test("uploads a bundle once under <prefix><flow>/<sha256>.mjs and reads it back, checked", async () => {
    const storage = s3Storage({
      bucket: "flows",
      keyPrefix: "prod/",
      endpoint: s3.url,
      forcePathStyle: true,
    });
    const store = s3Store({ storage });
    const b = bundle("export default 1;\n");
    const stored = await store.put(b, { flowName: "etl/nightly" });
    expect(stored).toEqual({ kind: "s3", ref: `prod/etl%2Fnightly/${b.hash}.mjs`, hash: b.hash });
    expect(await store.get(stored)).toBe(b.code);
    const first = await client.send(new GetObjectCommand({ Bucket: "flows", Key: stored.ref }));
    // Again: it is there, so it is not uploaded again (same LastModified).
    await new Promise((r) => setTimeout(r, 1100));
    await store.put(b, { flowName: "etl/nightly" });
    const second = await client.send(new GetObjectCommand({ Bucket: "flows", Key: stored.ref }));
    expect(second.LastModified).toEqual(first.LastModified);

    // Altered in the bucket: refused, naming where.
    await client.send(
      new PutObjectCommand({ Bucket: "flows", Key: stored.ref, Body: "export default 2;\n" }),
    );
    const error = await store.get(stored).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowLoadError);
    expect((error as Error).message).toMatch(
      new RegExp(`s3://flows/prod/etl%2Fnightly/${b.hash}.mjs is not bundle`),
    );
  });

  test("a missing bucket or object is an error naming it, with S3's reason", async () => {
    const store = s3Store({
      storage: s3Storage({ bucket: "no-such-bucket", endpoint: s3.url, forcePathStyle: true }),
    });
    const put = await store.put(bundle("x"), { flowName: "f" }).catch((e: unknown) => e);
    expect(put).toBeInstanceOf(FlowLoadError);
    expect((put as Error).message).toMatch(
      /s3:\/\/no-such-bucket\/f\/[0-9a-f]{64}\.mjs failed: NoSuchBucket/,
    );
    const get = await s3Store({
      storage: s3Storage({ bucket: "flows", endpoint: s3.url, forcePathStyle: true }),
    })
      .get({ kind: "s3", ref: "gone.mjs", hash: "0".repeat(64) })
      .catch((e: unknown) => e);
    expect((get as Error).message).toMatch(/reading s3:\/\/flows\/gone.mjs failed: NoSuchKey/);
  });
});
