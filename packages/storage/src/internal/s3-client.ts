// The S3 client and commands the S3 store uses, in a module of their own that the store imports when it
// is first used: other storages (and processes that never touch S3) do not load the AWS SDK.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { S3Storage } from "@regent/core";

export { GetObjectCommand, HeadObjectCommand, PutObjectCommand };

/** A client for the storage's region and endpoint; credentials are the AWS SDK's, from the environment. */
export function s3ClientFor(storage: S3Storage): S3Client {
  return new S3Client({
    ...(storage.region ? { region: storage.region } : {}),
    ...(storage.endpoint ? { endpoint: storage.endpoint } : {}),
    ...(storage.forcePathStyle ? { forcePathStyle: true } : {}),
    // Plain PUTs of a string: no aws-chunked encoding, which S3-compatible stores differ on.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 5,
  });
}
