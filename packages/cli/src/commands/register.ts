import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { graphql, RegentClient } from "@regent/client";
import {
  type Config,
  checkSchedule,
  FlowNotFoundError,
  InvalidUsageError,
  NotFoundError,
  type Schedule,
  type Storage,
} from "@regent/core";
import { isFlow } from "@regent/sdk";
import { bundleFlow, type FlowBundle, loadBundle, localFolderStore } from "@regent/storage";
import { findFlowFiles } from "../flow-files.js";
import { stylerFor } from "../style.js";

const SDK_URL = import.meta.resolve("@regent/sdk");

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
  const loadDir = join(tmpdir(), `regent-${process.getuid?.() ?? "user"}`, "register");
  for (const [i, file] of files.entries()) {
    progress(paint("gray", `[${i + 1}/${files.length}] bundling ${file}…`));
    const bundle = await bundleFlow(file);
    const mod = await loadBundle(bundle.code, { dir: loadDir, sdkUrl: SDK_URL });
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
      storage?: Storage;
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
      storage: o.storage ?? { type: "database" },
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

  const results: Array<Record<string, unknown>> = [];
  for (const f of found) {
    let bundleRef: Record<string, unknown> = { hash: f.bundle.hash, entry: f.bundle.entry };
    if (f.storage.type === "database") {
      await client.request(UploadBundle, { hash: f.bundle.hash, code: f.bundle.code });
    } else {
      const stored = await localFolderStore({ dir: f.storage.path }).put(f.bundle, { flowName: f.name });
      bundleRef = { ...bundleRef, ref: stored.ref };
    }
    const storage = { ...f.storage, bundle: bundleRef };
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
