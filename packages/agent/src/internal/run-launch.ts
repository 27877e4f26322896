// What every launcher does the same way for a run: the image it runs, the environment it gets, the
// agent's defaults under the run config, and the command in the runtime image.
import { InvalidConfigError } from "@regent/core";
import type { ClaimedRun } from "./launcher.js";

/** What a container of the runtime image runs for a flow run. */
export const RUNTIME_COMMAND: readonly string[] = ["regent", "execute", "flow-run"];

/** What a container of the runtime image runs for one of a run's cluster workers (then its arguments). */
export const WORKER_COMMAND: readonly string[] = ["regent", "worker"];

/** Set by the agent for every run; a run config cannot point the run at another run or server. */
export const AGENT_KEYS = ["REGENT__API", "REGENT__API_KEY", "REGENT__FLOW_RUN_ID"] as const;

/** The image a flow with Docker storage was registered with (`registry/name@sha256:…`), if it has one. */
export function storageImage(storage: unknown): string | undefined {
  const s = storage as { type?: unknown; image?: unknown } | null;
  return s?.type === "docker" && typeof s.image === "string" ? s.image : undefined;
}

/** The run's image: its run config's, else its flow's Docker storage image, else the agent's default. */
export const runImage = (
  configImage: string | undefined,
  run: ClaimedRun,
  defaultImage: string | undefined,
) => configImage ?? storageImage(run.flowStorage) ?? defaultImage;

/** The error for a run with no image anywhere; `helper` is the run config helper that sets one. */
export const noImage = (helper: string, also = "") =>
  new InvalidConfigError(
    `the run config names no image and the flow has no Docker storage: set ${helper}({ image }) or dockerStorage(…)${also} (or start the agent with --image)`,
  );

/** `envs` merged (later wins) without the keys only the agent sets. */
export function withoutAgentKeys(...envs: ReadonlyArray<Readonly<Record<string, string>> | undefined>) {
  const env: Record<string, string> = Object.assign({}, ...envs);
  for (const key of AGENT_KEYS) delete env[key];
  return env;
}

/** A launched run's environment: `envs` (agent's, then run config's), the API, the run and its own token. */
export function runEnvironment(
  run: ClaimedRun,
  apiUrl: string,
  ...envs: ReadonlyArray<Readonly<Record<string, string>> | undefined>
): Record<string, string> {
  return {
    ...withoutAgentKeys(...envs),
    REGENT__API: apiUrl,
    REGENT__FLOW_RUN_ID: run.id,
    // The run's own token, never the agent's key.
    ...(run.token ? { REGENT__API_KEY: run.token } : {}),
  };
}

/** The agent's defaults with the fields the run config sets over them (its unset ones do not hide them). */
export function withAgentDefaults<T extends object>(defaults: Partial<Omit<T, "type">>, config: T): T {
  const set = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  return { ...defaults, ...set } as T;
}
