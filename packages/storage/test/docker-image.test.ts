import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { DockerImageError, dockerStorage } from "@regent/core";
import { regentTest as test } from "@regent/testkit";
import Dockerode from "dockerode";
import { describe, expect } from "vitest";
import { buildFlowImage, type FlowBundle } from "../src/index.js";

// buildFlowImage against the testbed's real Docker engine and registry with password auth
// (scripts/testbed/docker.sh, which npm test starts). The CLI's end-to-end test (packages/cli/test/
// docker.test.ts) covers register, the runtime image and the agent; this covers the storage's options.

const registry = process.env.REGENT_TEST_REGISTRY;
const base = process.env.REGENT_TEST_BASE_IMAGE;
if (!registry || !base)
  throw new Error(
    'the Docker tests need a Docker engine and a registry: run them with `npm test` (it starts both), or `eval "$(bash scripts/testbed/docker.sh start)"` first',
  );
const auth = {
  [registry]: {
    username: process.env.REGENT_TEST_REGISTRY_USER ?? "",
    password: process.env.REGENT_TEST_REGISTRY_PASSWORD ?? "",
  },
};
const docker = new Dockerode();

/** A bundle-shaped module; its hash only has to be unique, as the image layout never reads it. */
const bundle = (): FlowBundle => {
  const hash = randomUUID().replaceAll("-", "").padEnd(64, "0");
  return {
    code: `export default ${JSON.stringify(hash)};\n`,
    hash,
    entry: "flow.ts",
    inputs: ["flow.ts"],
    externals: [],
    nativeExternals: [],
    sizeBytes: 40,
  };
};

describe("buildFlowImage", () => {
  test("pushes the content tag and imageTag to the same digest, with the files, env and Dockerfile lines in the image", async ({
    tmp,
  }) => {
    await writeFile(`${tmp}/rows.csv`, "a\nb\n");
    const storage = dockerStorage({
      registryUrl: registry,
      imageName: "regent-test/options",
      imageTag: "latest",
      baseImage: base,
      env: { MODE: "prod" },
      files: { "rows.csv": "/data/rows.csv" },
      dockerfileLines: ["RUN [\"node\", \"-e\", \"require('fs').writeFileSync('/tmp/built', 'yes')\"]"],
    });
    const lines: string[] = [];
    const image = await buildFlowImage({
      docker,
      bundle: bundle(),
      storage,
      flowDir: tmp,
      defaultBaseImage: "unused",
      registryAuth: auth,
      progress: (l) => lines.push(l),
    });
    expect(image.built).toBe(true);
    expect(image.image).toBe(`${registry}/regent-test/options@${image.digest}`);
    const at = async (tag: string) =>
      (
        (await docker.getImage(`${registry}/regent-test/options:${tag}`).distribution({
          authconfig: { ...auth[registry]!, serveraddress: registry },
        })) as { Descriptor: { digest: string } }
      ).Descriptor.digest;
    expect(await at(image.tag)).toBe(image.digest);
    expect(await at("latest")).toBe(image.digest);
    expect(lines).toEqual(expect.arrayContaining([`pushing ${registry}/regent-test/options:latest…`]));

    const container = await docker.createContainer({
      Image: image.image,
      Cmd: [
        "node",
        "-e",
        "const fs=require('fs');console.log(process.env.MODE, fs.readFileSync('/data/rows.csv','utf8').split('\\n').length, fs.readFileSync('/tmp/built','utf8'), fs.readdirSync('/opt/regent/flow').length)",
      ],
      HostConfig: { NetworkMode: "host", AutoRemove: false },
    });
    try {
      await container.start();
      await container.wait();
      const out = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
      expect(out).toContain("prod 3 yes 1");
    } finally {
      await container.remove({ force: true });
    }
  });

  test("a Dockerfile line that fails is IMAGE_BUILD_FAILED with the builder's words; nothing is pushed", async ({
    tmp,
  }) => {
    const error = await buildFlowImage({
      docker,
      bundle: bundle(),
      storage: dockerStorage({
        registryUrl: registry,
        imageName: "regent-test/broken",
        baseImage: base,
        dockerfileLines: ['RUN ["node", "-e", "process.exit(7)"]'],
      }),
      flowDir: tmp,
      defaultBaseImage: "unused",
      registryAuth: auth,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerImageError);
    expect((error as DockerImageError).code).toBe("IMAGE_BUILD_FAILED");
    expect((error as Error).message).toMatch(/did not build: .*returned a non-zero code: 7/);
    expect((error as Error).message).not.toContain("is not on this machine");
  });
});
