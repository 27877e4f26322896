import { graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import { startS3Server } from "@regent/testkit/s3";
import { expect } from "vitest";
import { startServer, useServerDatabases } from "./helpers.js";

// S3 storage end to end against a real S3-compatible server on loopback (s3rver): `regent register`
// uploads the bundle, a local agent's executor fetches it from there (not from the database) and runs it.

const dbFor = useServerDatabases();
const fixture = new URL("./fixtures/s3/from-s3.ts", import.meta.url).pathname;

test("a flow with S3 storage is uploaded at register and fetched from S3 by its runs", async ({
  cli,
  tmp,
}) => {
  const s3 = await startS3Server(["flows"]);
  try {
    const env = { ...s3.env, REGENT_TEST_S3: s3.url };
    const api = await startServer(await dbFor("sqlite", tmp));
    expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);
    const registered = await cli(["register", fixture, "--project", "demo", "--api", api], { env });
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stderr).toContain("from-s3: uploading to s3://flows…");
    const { flow } = await graphqlData(api, `{ flow { storage } }`);
    const { bundle, ...storage } = flow[0].storage;
    expect(storage).toEqual({
      type: "s3",
      bucket: "flows",
      keyPrefix: "regent/",
      endpoint: s3.url,
      forcePathStyle: true,
    });
    expect(bundle.ref).toBe(`regent/from-s3/${bundle.hash}.mjs`);
    // Not in the database: runs can only have it from S3.
    expect(
      (await graphqlData(api, `query($h: String!) { flow_bundle(hash: $h) { hash } }`, { h: bundle.hash }))
        .flow_bundle,
    ).toBeNull();

    startRegentProcess(
      ["agent", "local", "start", "--accept-unlabeled", "--prestarted", "0", "--api", api],
      s3.env,
    );
    const run = await cli(["run", "--name", "from-s3", "--project", "demo", "--watch", "--api", api]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("loaded from S3");
  } finally {
    await s3.close();
  }
}, 120_000);
