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
