/** Labels of a run: the run's own labels win, then its run config's, then the flow's. */
export function effectiveRunLabels(input: {
  flowLabels?: readonly string[] | undefined;
  runConfigLabels?: readonly string[] | undefined;
  runLabels?: readonly string[] | undefined;
}): string[] {
  const chosen = input.runLabels ?? input.runConfigLabels ?? input.flowLabels ?? [];
  return [...new Set(chosen)].sort();
}

export interface LabelMatchInput {
  readonly runLabels: readonly string[];
  readonly agentLabels: readonly string[];
  /** An agent started with `--accept-unlabeled` also takes runs with no labels. */
  readonly acceptUnlabeled?: boolean;
}

/**
 * May this agent take this run? Every label of the run must be among the agent's labels. A run with no
 * labels goes only to agents with no labels, unless the agent opts in with `acceptUnlabeled`.
 */
export function agentCanTakeRun({
  runLabels,
  agentLabels,
  acceptUnlabeled = false,
}: LabelMatchInput): boolean {
  if (runLabels.length === 0) return agentLabels.length === 0 || acceptUnlabeled;
  const have = new Set(agentLabels);
  return runLabels.every((l) => have.has(l));
}

/** The run's labels an agent lacks, for the "no agent can take this run" message. */
export function missingLabels(runLabels: readonly string[], agentLabels: readonly string[]): string[] {
  const have = new Set(agentLabels);
  return runLabels.filter((l) => !have.has(l));
}

export interface AgentSeen {
  readonly name: string;
  readonly labels: readonly string[];
  readonly acceptUnlabeled?: boolean;
}

/**
 * Why a run is still unclaimed past its start time, in words a person can act on: no live agent at all,
 * no live agent carrying every label of the run (naming what each lacks), or agents that could take it
 * but have not (busy, at their run limit, or just started polling).
 */
export function whyUnclaimed(runLabels: readonly string[], liveAgents: readonly AgentSeen[]): string {
  const shown = runLabels.length > 0 ? `[${runLabels.join(", ")}]` : "no labels";
  if (liveAgents.length === 0) {
    if (runLabels.length === 0)
      return "no agent is running: start one (an agent without labels takes runs without labels), e.g. `regent agent local start`";
    const flags = runLabels.map((l) => ` --label ${l}`).join("");
    return `no agent is running: start one that carries the run's labels ${shown}, e.g. \`regent agent local start${flags}\``;
  }
  const able = liveAgents.filter((a) =>
    agentCanTakeRun({ runLabels, agentLabels: a.labels, acceptUnlabeled: a.acceptUnlabeled ?? false }),
  );
  if (able.length > 0) {
    const names = able.map((a) => a.name).join(", ");
    return `not claimed yet, though live agent${able.length > 1 ? "s" : ""} ${names} can take it (busy, at a run limit, or not polling)`;
  }
  const each = liveAgents
    .slice(0, 5)
    .map((a) =>
      runLabels.length === 0
        ? `${a.name} has labels [${a.labels.join(", ")}] and does not accept unlabeled runs`
        : `${a.name} lacks ${missingLabels(runLabels, a.labels).join(", ")}`,
    )
    .join("; ");
  const more = liveAgents.length > 5 ? `; and ${liveAgents.length - 5} more` : "";
  return `no live agent can take this run: it has ${shown} and an agent must carry every one (${each}${more})`;
}
