import { z } from "zod";

/** The flow's bundle is kept in the server's database (the default). */
export const DatabaseStorageSchema = z.strictObject({ type: z.literal("database") });
/** The flow's bundle is kept in a folder reachable where the run executes. */
export const LocalStorageSchema = z.strictObject({ type: z.literal("local"), path: z.string().min(1) });

/** `host[:port]` with an optional path, as `docker login` and image references write a registry. */
const REGISTRY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9._/-]*[a-z0-9])?$/;
/** A repository path component list, as the Docker reference grammar allows. */
const IMAGE_NAME = /^[a-z0-9]+([._-]+[a-z0-9]+|__[a-z0-9]+)*(\/[a-z0-9]+([._-]+[a-z0-9]+|__[a-z0-9]+)*)*$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The flow is built into a Docker image at `regent register` (FROM `baseImage`, the Regent runtime
 * image, plus the bundle and the native packages it imports) and pushed to `registryUrl`; the registered
 * version records the image's digest, and a Docker agent runs that exact image.
 */
export const DockerStorageSchema = z.strictObject({
  type: z.literal("docker"),
  /** Where the image is pushed: `registry.example.com:5000` (a path below the host is allowed). */
  registryUrl: z
    .string()
    .transform((url) => url.replace(/^https?:\/\//, "").replace(/\/+$/, ""))
    .pipe(z.string().regex(REGISTRY, 'a registry is "host[:port]", e.g. "registry.example.com:5000"')),
  /** The repository: `etl/nightly` becomes `registryUrl/etl/nightly`. */
  imageName: z
    .string()
    .regex(IMAGE_NAME, "an image name is lowercase letters, digits, and . _ - / between them"),
  /** A tag pushed besides the content-hash tag every image gets (e.g. `latest`, a release). */
  imageTag: z
    .string()
    .regex(IMAGE_TAG, "a tag is up to 128 letters, digits, _ . -, not starting with . or -")
    .optional(),
  /** The image built FROM; it must hold the Regent runtime (default: the official runtime image). */
  baseImage: z.string().min(1).optional(),
  /** Dockerfile instructions added after the flow (exec form `RUN [...]` if the base has no shell). */
  dockerfileLines: z
    .array(
      z
        .string()
        .min(1)
        .refine((l) => !/[\r\n]/.test(l), "one instruction per line"),
    )
    .optional(),
  /** Environment variables set in the image. */
  env: z.record(z.string().regex(ENV_NAME, "an environment variable name"), z.string()).optional(),
  /** Files copied into the image: local path (relative to the flow file) → absolute path in the image. */
  files: z
    .record(z.string().min(1), z.string().startsWith("/", "a path in the image is absolute"))
    .optional(),
});

/** S3 bucket names: 3–63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The flow's bundle is uploaded to S3 at `regent register` (`<keyPrefix><flow name>/<sha256>.mjs`,
 * once per content) and fetched by each run, which then needs read access to it (e.g. the ECS task role).
 * `endpoint` (with `forcePathStyle`) points at an S3-compatible store; region and credentials are the AWS
 * SDK's, from the environment.
 */
export const S3StorageSchema = z.strictObject({
  type: z.literal("s3"),
  bucket: z.string().regex(BUCKET, "an S3 bucket name: 3–63 lowercase letters, digits, dots and hyphens"),
  /** Prepended to every key: `flows/` gives `flows/<flow name>/<sha256>.mjs`. */
  keyPrefix: z
    .string()
    .max(512)
    .refine((p) => !p.startsWith("/"), "a key prefix does not start with /")
    .optional(),
  region: z.string().min(1).optional(),
  endpoint: z.url({ protocol: /^https?$/, error: "an http(s) URL, e.g. http://127.0.0.1:9000" }).optional(),
  forcePathStyle: z.boolean().optional(),
});

/** Discriminated by `type`; git joins with its issue. */
export const StorageSchema = z.discriminatedUnion("type", [
  DatabaseStorageSchema,
  LocalStorageSchema,
  DockerStorageSchema,
  S3StorageSchema,
]);
export type Storage = z.infer<typeof StorageSchema>;
export type DatabaseStorage = z.infer<typeof DatabaseStorageSchema>;
export type LocalStorage = z.infer<typeof LocalStorageSchema>;
export type DockerStorage = z.infer<typeof DockerStorageSchema>;
export type DockerStorageInput = Omit<z.input<typeof DockerStorageSchema>, "type">;
export type S3Storage = z.infer<typeof S3StorageSchema>;

export const databaseStorage = (): DatabaseStorage => ({ type: "database" });
export const localStorage = (path: string): LocalStorage => LocalStorageSchema.parse({ type: "local", path });
export const dockerStorage = (options: DockerStorageInput): DockerStorage =>
  DockerStorageSchema.parse({ ...options, type: "docker" });
export const s3Storage = (options: Omit<S3Storage, "type">): S3Storage =>
  S3StorageSchema.parse({ ...options, type: "s3" });

/** Where the flow's bundle sits in a Docker storage image; its native packages are in `node_modules/` below. */
export const DOCKER_FLOW_DIR = "/opt/regent/flow";

/** The registry's host (`host[:port]`), what credentials are kept by: `registryUrl` without its path. */
export const dockerRegistryHost = (storage: DockerStorage): string => storage.registryUrl.split("/")[0]!;

/** `registryUrl/imageName`, the repository an image of this storage is pushed to. */
export const dockerRepository = (storage: DockerStorage): string =>
  `${storage.registryUrl}/${storage.imageName}`;
