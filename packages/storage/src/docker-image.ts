import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import {
  DOCKER_FLOW_DIR,
  DockerImageError,
  type DockerStorage,
  dockerRegistryHost,
  dockerRepository,
  InvalidConfigError,
} from "@regent/core";
import type Dockerode from "dockerode";
import type { FlowBundle } from "./bundle.js";
import { type DockerProgressEvent, followProgress, type RegistryAuth } from "./docker-registry.js";
import { copyPackages, packageClosure } from "./package-closure.js";

/** Bumped when the image layout changes, so that images built the old way are not taken for current. */
const LAYOUT = 1;

export interface BuildFlowImageOptions {
  readonly docker: Dockerode;
  readonly bundle: FlowBundle;
  readonly storage: DockerStorage;
  /** The flow file's folder: `files` are relative to it, and native packages are found from it. */
  readonly flowDir: string;
  /** The base image when the storage names none: the Regent runtime image of this version. */
  readonly defaultBaseImage: string;
  /** Credentials by registry host; those of `storage.registryUrl` push the image. */
  readonly registryAuth: Readonly<Record<string, RegistryAuth>>;
  /** Progress, a line at a time: the build's steps and each layer's push. */
  readonly progress?: ((line: string) => void) | undefined;
}

export interface FlowImage {
  /** The exact image: `registry/name@sha256:…`, what runs use. */
  readonly image: string;
  readonly digest: string;
  /** The tag derived from the image's content, pushed with every image. */
  readonly tag: string;
  /** False when the registry had this content already: nothing was built or pushed. */
  readonly built: boolean;
}

/**
 * Builds the flow's image (FROM the base image: the bundle and the native packages it imports under
 * DOCKER_FLOW_DIR, the storage's files, env and Dockerfile lines) and pushes it to the storage's registry,
 * tagged with a hash of all that goes into it (and `imageTag` when set). When the registry has that
 * tag already, nothing is built or pushed: its digest is returned.
 */
export async function buildFlowImage(options: BuildFlowImageOptions): Promise<FlowImage> {
  const { docker, storage, bundle } = options;
  const say = options.progress ?? (() => undefined);
  const repository = dockerRepository(storage);
  const baseImage = storage.baseImage ?? options.defaultBaseImage;
  const host = dockerRegistryHost(storage);
  const auth = options.registryAuth[host];
  const authconfig: AuthConfig = { ...auth, serveraddress: host };

  await engineVersion(docker);
  const natives = await packageClosure(bundle.nativeExternals, options.flowDir);
  const files = await Promise.all(
    Object.entries(storage.files ?? {}).map(async ([from, to]) => {
      const path = resolve(options.flowDir, from);
      return { from, path, to, hash: await contentHash(path, from) };
    }),
  );
  // The base's id, when it is here: a rebuilt base makes new images.
  const baseLocal = await docker
    .getImage(baseImage)
    .inspect()
    .then((i) => i.Id)
    .catch(() => undefined);
  const baseId = baseLocal ?? baseImage;
  const hash = createHash("sha256")
    .update(
      JSON.stringify([
        LAYOUT,
        bundle.hash,
        baseId,
        storage.dockerfileLines ?? [],
        storage.env ?? {},
        files.map((f) => [f.to, f.hash]),
        natives.map((p) => [p.dest, p.version]),
      ]),
    )
    .digest("hex");
  const tag = `regent-${hash.slice(0, 24)}`;

  say(`checking ${repository}:${tag}…`);
  const existing = await registryDigest(docker, `${repository}:${tag}`, authconfig);
  if (existing) {
    const named = storage.imageTag
      ? await registryDigest(docker, `${repository}:${storage.imageTag}`, authconfig)
      : existing;
    if (named === existing) {
      say(`${repository}:${tag} is in the registry already: nothing to build or push`);
      return { image: `${repository}@${existing}`, digest: existing, tag, built: false };
    }
  }

  const context = await mkdtemp(join(tmpdir(), "regent-image-"));
  try {
    await writeContext(context, { bundle, natives, files, storage, baseImage, hash });
    say(`building ${repository}:${tag} FROM ${baseImage}…`);
    const sources = ["Dockerfile", "flow", ...(files.length ? ["files"] : [])];
    let build: NodeJS.ReadableStream;
    try {
      build = await docker.buildImage(
        { context, src: sources },
        {
          t: `${repository}:${tag}`,
          forcerm: true,
          labels: { "io.regent.content-hash": hash },
          // Credentials for a base image in a private registry (the engine pulls it for FROM).
          registryconfig: Object.fromEntries(
            Object.entries(options.registryAuth).map(([registry, a]) => [
              registry,
              { ...a, serveraddress: registry },
            ]),
          ),
        },
      );
      await followProgress(docker, build, (event) => {
        const line = event.stream?.trimEnd();
        if (line) for (const part of line.split("\n")) if (part.trim()) say(`  ${part}`);
      });
    } catch (error) {
      const why = (error as Error).message;
      const baseThere = await docker
        .getImage(baseImage)
        .inspect()
        .then(() => true)
        .catch(() => false);
      const hint = baseThere
        ? ""
        : ` (the base image ${baseImage} is not on this machine and could not be pulled: build the runtime image with \`npm run image:runtime\` in the Regent repository, or name one your engine can pull in dockerStorage({ baseImage }) or [docker] runtime_image; docs/docker.md#the-runtime-image)`;
      throw new DockerImageError(
        "IMAGE_BUILD_FAILED",
        `the image ${repository}:${tag} did not build: ${why}${hint}`,
        {
          cause: error,
        },
      );
    }
    const tags = [tag, ...(storage.imageTag ? [storage.imageTag] : [])];
    const image = docker.getImage(`${repository}:${tag}`);
    let digest = "";
    for (const t of tags) {
      if (t !== tag) await image.tag({ repo: repository, tag: t });
      say(`pushing ${repository}:${t}…`);
      const pushed = await pushImage(docker, repository, t, authconfig, say);
      if (t === tag) digest = pushed;
    }
    say(`pushed ${repository}@${digest}`);
    return { image: `${repository}@${digest}`, digest, tag, built: true };
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

async function engineVersion(docker: Dockerode): Promise<void> {
  try {
    await docker.version();
  } catch (error) {
    throw new DockerImageError(
      "DOCKER_UNAVAILABLE",
      `no Docker engine answers at ${process.env.DOCKER_HOST ?? "/var/run/docker.sock"} (${(error as Error).message}): Docker storage builds the flow's image with it; start dockerd, or set DOCKER_HOST`,
      { cause: error },
    );
  }
}

type AuthConfig = { username?: string; password?: string; serveraddress: string };

/** The digest the registry has for `ref`, undefined when it has none; refused credentials throw. */
async function registryDigest(
  docker: Dockerode,
  ref: string,
  authconfig: AuthConfig,
): Promise<string | undefined> {
  try {
    const found = (await docker.getImage(ref).distribution({ authconfig })) as {
      Descriptor?: { digest?: string };
    };
    return found.Descriptor?.digest;
  } catch (error) {
    const e = error as { statusCode?: number; json?: { message?: string }; message: string };
    const why = e.json?.message ?? e.message;
    if (e.statusCode === 404) return undefined;
    throw registryError(why, authconfig, error);
  }
}

function registryError(why: string, authconfig: AuthConfig, cause: unknown): DockerImageError {
  const registry = authconfig.serveraddress;
  if (/unauthorized|authentication required|no basic auth credentials|denied/i.test(why))
    return new DockerImageError(
      "REGISTRY_AUTH_FAILED",
      authconfig.username
        ? `the registry ${registry} refused the credentials of "${authconfig.username}": ${why}. Run docker login ${registry} again, or give --registry-username and --registry-password-stdin`
        : `the registry ${registry} needs credentials and none are known for it: ${why}. Run docker login ${registry}, or give --registry-username and --registry-password-stdin`,
      { cause, details: { registry } },
    );
  return new DockerImageError("REGISTRY_UNAVAILABLE", `the registry ${registry} failed: ${why}`, {
    cause,
    details: { registry },
  });
}

/** Pushes `repository:tag`; returns the digest the registry gave it. */
async function pushImage(
  docker: Dockerode,
  repository: string,
  tag: string,
  authconfig: AuthConfig,
  say: (line: string) => void,
): Promise<string> {
  const seen = new Map<string, string>();
  let events: DockerProgressEvent[];
  try {
    const stream = await docker.getImage(`${repository}:${tag}`).push({ tag, authconfig });
    events = await followProgress(docker, stream, (event) => {
      // A line when a layer's status changes, not one for each percent of it.
      if (!event.id || !event.status || seen.get(event.id) === event.status) return;
      seen.set(event.id, event.status);
      if (event.status !== "Preparing" && event.status !== "Waiting" && event.status !== "Pushing")
        say(`  ${event.id}: ${event.status}`);
    });
  } catch (error) {
    throw registryError((error as Error).message, authconfig, error);
  }
  const digest = events.find((e) => e.aux?.Digest)?.aux?.Digest;
  if (!digest)
    throw new DockerImageError(
      "REGISTRY_UNAVAILABLE",
      `the registry gave no digest for ${repository}:${tag}`,
    );
  return digest;
}

interface ContextParts {
  readonly bundle: FlowBundle;
  readonly natives: Awaited<ReturnType<typeof packageClosure>>;
  readonly files: ReadonlyArray<{ from: string; path: string; to: string }>;
  readonly storage: DockerStorage;
  readonly baseImage: string;
  readonly hash: string;
}

/** The build context: a Dockerfile, `flow/` (the bundle and its native packages) and `files/`. */
async function writeContext(dir: string, parts: ContextParts): Promise<void> {
  await mkdir(join(dir, "flow"), { recursive: true });
  await writeFile(join(dir, "flow", `${parts.bundle.hash}.mjs`), parts.bundle.code);
  await copyPackages(parts.natives, join(dir, "flow"));
  const lines = [
    "# Made by regent register (Docker storage): the flow's bundle on the Regent runtime image.",
    `FROM ${parts.baseImage}`,
    `COPY flow/ ${DOCKER_FLOW_DIR}/`,
  ];
  for (const [i, file] of parts.files.entries()) {
    const name = basename(file.path);
    await cp(file.path, join(dir, "files", String(i), name), { recursive: true, dereference: true });
    lines.push(`COPY ${JSON.stringify([`files/${i}/${name}`, file.to])}`);
  }
  for (const [name, value] of Object.entries(parts.storage.env ?? {}))
    lines.push(`ENV ${name}=${JSON.stringify(value)}`);
  lines.push(...(parts.storage.dockerfileLines ?? []));
  lines.push(`LABEL io.regent.bundle-hash=${parts.bundle.hash}`);
  await writeFile(join(dir, "Dockerfile"), `${lines.join("\n")}\n`);
}

/** sha256 over a file's bytes, or a folder's files (their paths and bytes). */
async function contentHash(path: string, name: string): Promise<string> {
  const hash = createHash("sha256");
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new InvalidConfigError(
      `dockerStorage files: "${name}" is not there (paths are relative to the flow file's folder)`,
      { file: name },
    );
  }
  if (info.isFile()) return hash.update(await readFile(path)).digest("hex");
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else
        hash
          .update(relative(path, full))
          .update("\0")
          .update(await readFile(full))
          .update("\0");
    }
  };
  await walk(path);
  return hash.digest("hex");
}
