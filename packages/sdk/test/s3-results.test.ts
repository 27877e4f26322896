import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type S3Server, startS3Server } from "@regent/testkit/s3";
import { afterAll, beforeAll, expect, test } from "vitest";
import { flow, s3Results, task } from "../src/index.js";

// Task results and cache entries in a real S3-compatible server on loopback (s3rver), through the
// official client as s3Results makes it from the environment.

let s3: S3Server;
const saved: Record<string, string | undefined> = {};
beforeAll(async () => {
  s3 = await startS3Server(["results"]);
  for (const [k, v] of Object.entries(s3.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  await s3?.close();
});

test("results are JSON objects under <prefix><run>/<task run>.json, read back; the cache is shared across runs", async () => {
  const storage = () =>
    s3Results({ bucket: "results", keyPrefix: "regent/", endpoint: s3.url, forcePathStyle: true });
  let calls = 0;
  const lookup = task({ name: "lookup", cacheKey: (id: number) => `id-${id}` }, async (id: number) => {
    calls++;
    return { id, name: `user ${id}` };
  });
  const f = flow({ name: "s3-results" }, async () => lookup(7));

  const first = await f.run(undefined, { resultStorage: storage() });
  expect(first.result).toEqual({ id: 7, name: "user 7" });
  const ref = first.taskRuns[0]!.state!.resultRef!;
  expect(ref).toMatch(/^s3:\/\/results\/regent\/[0-9a-f-]+\/[0-9a-f-]+\.json$/);
  expect(await storage().read(ref)).toEqual({ id: 7, name: "user 7" });
  const client = new S3Client({
    endpoint: s3.url,
    forcePathStyle: true,
    region: "us-east-1",
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const object = await client.send(
    new GetObjectCommand({ Bucket: "results", Key: ref.slice("s3://results/".length) }),
  );
  expect(JSON.parse(await object.Body!.transformToString())).toEqual({ value: { id: 7, name: "user 7" } });

  // Another storage object on the same bucket (as another process would): a cache hit.
  const second = await f.run(undefined, { resultStorage: storage() });
  expect(second.taskRuns.map((t) => t.state?.type)).toEqual(["Cached"]);
  expect(calls).toBe(1);
});

test("a bucket that is not there fails the task run, saying which", async () => {
  const f = flow({ name: "no-bucket" }, async () => task({ name: "t" }, async () => 1)());
  const run = await f.run(undefined, {
    resultStorage: s3Results({ bucket: "missing", endpoint: s3.url, forcePathStyle: true }),
  });
  expect(run.state.type).toBe("Failed");
  expect(JSON.stringify(run.taskRuns[0]!.state)).toMatch(/writing s3:\/\/missing\/.*failed: NoSuchBucket/);
});
