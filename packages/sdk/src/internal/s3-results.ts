// The S3 side of s3Results, in a module of its own that is imported when a result is first written or
// read: flows that keep results elsewhere do not load the AWS SDK.
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { S3ResultsOptions } from "../results-s3.js";

export interface S3Objects {
  put(key: string, text: string): Promise<void>;
  /** The object's text; undefined when there is no such key. */
  get(key: string): Promise<string | undefined>;
}

export function s3Objects(options: S3ResultsOptions): S3Objects {
  const client = new S3Client({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.forcePathStyle ? { forcePathStyle: true } : {}),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 5,
  });
  const where = (key: string) => `s3://${options.bucket}/${key}`;
  const reason = (error: unknown) => {
    const e = error as { name?: string; message?: string };
    return e.name && e.name !== "Error" ? `${e.name}: ${e.message}` : String(e.message);
  };
  return {
    async put(key, text) {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: options.bucket,
            Key: key,
            Body: text,
            ContentType: "application/json",
          }),
        );
      } catch (error) {
        throw new Error(`writing ${where(key)} failed: ${reason(error)}`, { cause: error });
      }
    },
    async get(key) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }));
        return (await object.Body?.transformToString("utf-8")) ?? "";
      } catch (error) {
        if ((error as { name?: string }).name === "NoSuchKey") return undefined;
        throw new Error(`reading ${where(key)} failed: ${reason(error)}`, { cause: error });
      }
    },
  };
}
