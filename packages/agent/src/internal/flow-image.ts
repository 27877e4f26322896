/** The image a flow with Docker storage was registered with (`registry/name@sha256:…`), if it has one. */
export function storageImage(storage: unknown): string | undefined {
  const s = storage as { type?: unknown; image?: unknown } | null;
  return s?.type === "docker" && typeof s.image === "string" ? s.image : undefined;
}

/** Set by the agent for every run; a run config cannot point the run at another run or server. */
export const AGENT_KEYS = ["REGENT__API", "REGENT__API_KEY", "REGENT__FLOW_RUN_ID"] as const;
