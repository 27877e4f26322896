import { createHash } from "node:crypto";
import { dirname, resolve } from "node:path";
import { graphql, RegentClient } from "@regent/client";
import {
  type Config,
  checkSchedule,
  dockerRegistryHost,
  FlowNotFoundError,
  InvalidConfigError,
  InvalidUsageError,
  NotFoundError,
  type Schedule,
  type Storage,
  StorageSchema,
} from "@regent/core";
import { isFlow } from "@regent/sdk";
import {
  buildFlowImage,
  bundleFlow,
  type FlowBundle,
  loadBundle,
  localFolderStore,
  type RegistryAuth,
  s3Store,
} from "@regent/storage";
import type Dockerode from "dockerode";
import { findFlowFiles } from "../flow-files.js";
import { projectCacheDir } from "../load-flow.js";
import { registryAuth } from "../registry-auth.js";
import { readStdin } from "../stdin.js";
import { stylerFor } from "../style.js";
import { VERSION } from "../version.js";

const SDK_URL = import.meta.resolve("@regent/sdk");
/** The base of Docker storage images that name none (`[docker] runtime_image` overrides it). */
export const DEFAULT_RUNTIME_IMAGE = `regent/runtime:${VERSION}`;

const ProjectByName = graphql(`
  query ProjectByName($name: String!) { project(where: { name: { _eq: $name } }) { id } }
`);
const UploadBundle = graphql(`
  mutation UploadBundle($hash: String!, $code: String!) { upload_flow_bundle(input: { hash: $hash, code: $code }) { hash created } }
`);
const RegisterFlow = graphql(`
  mutation RegisterFlow($input: register_flow_input!) {
    register_flow(input: $input) { id version version_group_id created }
  }
`);

interface Found {
  readonly file: string;
  readonly bundle: FlowBundle;
  readonly name: string;
  readonly description: string | undefined;
  readonly parametersSchema: unknown;
  readonly runConfig: unknown;
  readonly labels: string[];
  readonly storage: Storage;
  readonly schedule: Schedule | null;
  readonly concurrency: unknown;
  readonly maxRestarts: number | null;
}

export interface RegisterOptions {
  project: string;
  label: string[];
  json?: boolean;
  /** Docker storage: a user for the flow's registry (the password comes from stdin). */
  registryUsername?: string;
  registryPasswordStdin?: boolean;
}

/**
 * `regent register <file-or-folder> --project P`: bundles each flow, stores the bundle in the flow's
 * storage and registers the version. Everything is bundled and checked before anything is stored, so a
 * file that does not compile leaves nothing half-registered.
 */
export async function register(config: Config, target: string, options: RegisterOptions): Promise<number> {
  const paint = stylerFor(process.stderr);
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const client = new RegentClient({ apiUrl: config.api, apiKey: config.api_key });
  const { project } = await client.request(ProjectByName, { name: options.project });
  const projectId = project[0]?.id;
  if (!projectId) {
    throw new NotFoundError(
      "PROJECT_NOT_FOUND",
      `no project named "${options.project}"; create it with: regent project create ${options.project}`,
    );
  }

  const { files, folder } = await findFlowFiles(target);
  const found: Found[] = [];
  for (const [i, file] of files.entries()) {
    progress(paint("gray", `[${i + 1}/${files.length}] bundling ${file}…`));
    const bundle = await bundleFlow(file);
    // Loaded in the flow's project, where the native packages the bundle leaves out resolve.
    const mod = await loadBundle(bundle.code, {
      dir: projectCacheDir(file, "register").dir,
      sdkUrl: SDK_URL,
    });
    const flow = (mod as { default?: unknown }).default;
    if (!isFlow(flow)) {
      if (folder) {
        progress(paint("gray", `    ${file}: no flow exported by default, skipped`));
        continue;
      }
      throw new FlowNotFoundError(
        `${file} has no default export that is a flow; add \`export default flow({ name: "..." }, ...)\``,
      );
    }
    const o = flow.options as {
      description?: string;
      labels?: string[];
      runConfig?: { labels?: string[] };
      storage?: unknown;
      schedule?: unknown;
      concurrency?: unknown;
      maxRestarts?: number;
    };
    let schedule: Schedule | null = null;
    if (o.schedule != null) {
      try {
        schedule = await checkSchedule(o.schedule);
      } catch (error) {
        throw new InvalidUsageError(`${file}: flow ${flow.name}: ${(error as Error).message}`);
      }
    }
    found.push({
      file,
      bundle,
      name: flow.name,
      description: o.description,
      parametersSchema: flow.paramsJsonSchema ?? null,
      runConfig: o.runConfig ?? null,
      labels: [...new Set([...(o.labels ?? []), ...options.label])].sort(),
      storage: storageOf(file, flow.name, o.storage),
      schedule,
      concurrency: o.concurrency ?? null,
      maxRestarts: o.maxRestarts ?? null,
    });
  }
  if (found.length === 0) throw new FlowNotFoundError(`no flows found in ${target}`);
  const names = new Map<string, string>();
  for (const f of found) {
    const other = names.get(f.name);
    if (other)
      throw new FlowNotFoundError(`two files define a flow named "${f.name}": ${other} and ${f.file}`);
    names.set(f.name, f.file);
  }

  // Every flow's code is stored (images built and pushed) before any is registered: a push that fails
  // leaves nothing registered.
  const stored: Array<Record<string, unknown>> = [];
  let docker: DockerTools | undefined;
  for (const f of found) {
    const bundleRef: Record<string, unknown> = { hash: f.bundle.hash, entry: f.bundle.entry };
    if (f.storage.type === "database") {
      await client.request(UploadBundle, { hash: f.bundle.hash, code: f.bundle.code });
      stored.push({ ...f.storage, bundle: bundleRef });
    } else if (f.storage.type === "local" || f.storage.type === "s3") {
      const store =
        f.storage.type === "local"
          ? localFolderStore({ dir: f.storage.path })
          : s3Store({ storage: f.storage });
      if (f.storage.type === "s3")
        progress(paint("gray", `${f.name}: uploading to s3://${f.storage.bucket}…`));
      const put = await store.put(f.bundle, { flowName: f.name });
      stored.push({ ...f.storage, bundle: { ...bundleRef, ref: put.ref } });
    } else {
      docker ??= await dockerTools(config, options);
      progress(
        paint("gray", `${f.name}: Docker storage, image ${f.storage.registryUrl}/${f.storage.imageName}`),
      );
      const image = await buildFlowImage({
        docker: docker.engine,
        bundle: f.bundle,
        storage: f.storage,
        flowDir: dirname(resolve(f.file)),
        defaultBaseImage: config.docker.runtime_image ?? DEFAULT_RUNTIME_IMAGE,
        registryAuth: docker.given
          ? { ...docker.auths, [dockerRegistryHost(f.storage)]: docker.given }
          : docker.auths,
        progress: (line) => progress(paint("gray", `    ${line}`)),
      });
      stored.push({ ...f.storage, image: image.image, bundle: bundleRef });
    }
  }

  const results: Array<Record<string, unknown>> = [];
  for (const [i, f] of found.entries()) {
    const storage = stored[i]!;
    // The version changes when any of these does (DESIGN §9).
    const contentHash = createHash("sha256")
      .update(
        JSON.stringify([
          f.bundle.hash,
          f.parametersSchema,
          f.runConfig,
          f.labels,
          f.storage,
          f.schedule,
          // A Docker image is named by its digest: a new base image makes a new version.
          ...(storage.image ? [storage.image] : []),
          // Only when set, so that flows without one keep the hash (and version) they had.
          ...(f.concurrency ? [f.concurrency] : []),
          ...(f.maxRestarts !== null ? [{ maxRestarts: f.maxRestarts }] : []),
        ]),
      )
      .digest("hex");
    const { register_flow } = await client.request(RegisterFlow, {
      input: {
        project_id: projectId,
        name: f.name,
        description: f.description ?? null,
        parameters_schema: f.parametersSchema,
        run_config: f.runConfig,
        labels: f.labels,
        storage,
        schedule: f.schedule,
        concurrency: f.concurrency,
        max_restarts: f.maxRestarts,
        content_hash: contentHash,
      },
    });
    results.push({ name: f.name, file: f.file, ...register_flow });
    if (!options.json) {
      const how = register_flow.created ? paint("green", "registered") : paint("gray", "unchanged ");
      process.stdout.write(
        `${how} ${f.name} v${register_flow.version} (${register_flow.id}) from ${f.file}\n`,
      );
    }
  }
  if (options.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  return 0;
}

interface DockerTools {
  readonly engine: Dockerode;
  readonly auths: Record<string, RegistryAuth>;
  /** From the flags: for the registry of every flow registered now. */
  readonly given: RegistryAuth | undefined;
}

/** The Docker engine and registry credentials for Docker storage; the password flag reads stdin. */
async function dockerTools(config: Config, options: RegisterOptions): Promise<DockerTools> {
  const { default: Docker } = await import("dockerode");
  let given: RegistryAuth | undefined;
  if (options.registryPasswordStdin || options.registryUsername) {
    if (!options.registryUsername || !options.registryPasswordStdin)
      throw new InvalidUsageError("--registry-username and --registry-password-stdin go together");
    const password = await readStdin(
      '--registry-password-stdin reads the password from standard input, e.g. `echo "$PASSWORD" | regent register … --registry-password-stdin`',
    );
    given = { username: options.registryUsername, password };
  }
  return { engine: new Docker(), auths: registryAuth(config), given };
}

/** The flow's storage option, checked: a hand-written object gets the same checks as `dockerStorage()`. */
function storageOf(file: string, name: string, storage: unknown): Storage {
  const parsed = StorageSchema.safeParse(storage ?? { type: "database" });
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "storage"}: ${i.message}`).join("; ");
  throw new InvalidConfigError(`${file}: flow ${name}: invalid storage: ${issues}`);
}
