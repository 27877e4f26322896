/// <reference path="./s3rver.d.ts" />
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A real S3-compatible server on loopback for the tests (s3rver: the S3 REST API over files in a
// temporary folder), with the credentials and client settings the official SDK needs to talk to it.

export interface S3Server {
  /** `http://127.0.0.1:PORT`, for `endpoint` (with `forcePathStyle`). */
  readonly url: string;
  /** AWS_* variables that give a process (the CLI, an executor) credentials and a region for it. */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/** Starts s3rver on a free 127.0.0.1 port with `buckets` made; stop it with `close()`. */
export async function startS3Server(buckets: readonly string[]): Promise<S3Server> {
  const { default: S3rver } = await import("s3rver");
  const directory = await mkdtemp(join(tmpdir(), "regent-s3-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return {
    url: `http://127.0.0.1:${port}`,
    // s3rver takes these fixed credentials.
    env: { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
