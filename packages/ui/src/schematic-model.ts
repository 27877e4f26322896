/**
 * The schematic of a flow run, from its task runs: one node per task run that is not a mapped child
 * (a mapped task is one node, its children counted by state), an edge per upstream link, children's
 * links drawn from and to their mapped parent. A run wider than `maxNodes` is drawn one node per task
 * (its runs counted by state), so that the picture stays readable and quick to lay out.
 */

export interface SchematicTaskRun {
  readonly id: string;
  readonly task_key: string;
  readonly task_name: string;
  readonly state: string;
  readonly map_index: number;
  readonly parent_task_run_id: string | null;
  readonly upstream: unknown;
}

export interface SchematicNode {
  readonly id: string;
  readonly label: string;
  /** The state the node is drawn in: its own, or for a group the one that most needs a look. */
  readonly state: string;
  /** For mapped tasks and grouped nodes: how many runs are in each state. */
  readonly counts?: Readonly<Record<string, number>>;
}

export interface Schematic {
  readonly nodes: SchematicNode[];
  readonly edges: { id: string; source: string; target: string }[];
  readonly grouped: boolean;
}

/** Which of several states a group is coloured by: what needs a look first. */
const PRIORITY = [
  "Failed",
  "TimedOut",
  "TriggerFailed",
  "Running",
  "Retrying",
  "Cancelling",
  "Paused",
  "Queued",
  "Pending",
  "Cancelled",
  "Skipped",
  "Cached",
  "Mapped",
  "Success",
];
const worst = (counts: Record<string, number>): string =>
  PRIORITY.find((s) => (counts[s] ?? 0) > 0) ?? Object.keys(counts)[0] ?? "Pending";

export function buildSchematic(taskRuns: readonly SchematicTaskRun[], maxNodes = 300): Schematic {
  const byId = new Map(taskRuns.map((t) => [t.id, t]));
  const topLevel = taskRuns.filter((t) => !t.parent_task_run_id || !byId.has(t.parent_task_run_id));
  const grouped = topLevel.length > maxNodes;
  /** The node a task run is drawn as. */
  const nodeOf = (t: SchematicTaskRun): string => {
    const top = t.parent_task_run_id && byId.has(t.parent_task_run_id) ? byId.get(t.parent_task_run_id)! : t;
    return grouped ? `task:${top.task_key}` : top.id;
  };
  const nodes = new Map<string, { label: string; state: string; counts?: Record<string, number> }>();
  for (const t of topLevel) {
    const id = nodeOf(t);
    if (grouped) {
      const node = nodes.get(id) ?? { label: t.task_name, state: t.state, counts: {} };
      node.counts![t.state] = (node.counts![t.state] ?? 0) + 1;
      nodes.set(id, node);
    } else nodes.set(id, { label: t.task_name, state: t.state });
  }
  // Mapped children: counted on their parent's node.
  for (const t of taskRuns) {
    if (!t.parent_task_run_id || !byId.has(t.parent_task_run_id)) continue;
    const node = nodes.get(nodeOf(t));
    if (!node) continue;
    node.counts ??= {};
    const key = `child:${t.state}`;
    node.counts[key] = (node.counts[key] ?? 0) + 1;
  }
  const edges = new Map<string, { id: string; source: string; target: string }>();
  for (const t of taskRuns) {
    const target = nodeOf(t);
    for (const u of Array.isArray(t.upstream) ? (t.upstream as string[]) : []) {
      const up = byId.get(u);
      if (!up) continue;
      const source = nodeOf(up);
      if (source === target) continue;
      const id = `${source}->${target}`;
      edges.set(id, { id, source, target });
    }
  }
  return {
    grouped,
    edges: [...edges.values()],
    nodes: [...nodes].map(([id, n]) => {
      if (!n.counts) return { id, label: n.label, state: n.state };
      // A mapped parent is drawn by its children's states once it has any; a group by its runs'.
      const children = Object.fromEntries(
        Object.entries(n.counts)
          .filter(([k]) => k.startsWith("child:"))
          .map(([k, v]) => [k.slice(6), v]),
      );
      const own = Object.fromEntries(Object.entries(n.counts).filter(([k]) => !k.startsWith("child:")));
      const counts = Object.keys(children).length > 0 ? children : own;
      return { id, label: n.label, state: Object.keys(counts).length ? worst(counts) : n.state, counts };
    }),
  };
}
