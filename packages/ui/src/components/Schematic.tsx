import dagre from "@dagrejs/dagre";
import { Background, Controls, type Edge, type Node, Position, ReactFlow } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";
import { buildSchematic, type SchematicTaskRun } from "../schematic-model.js";
import { StateBadge } from "./StateBadge.js";

const WIDTH = 190;
const HEIGHT = 58;

/** Left to right, laid out by dagre; positions are recomputed only when the graph's shape changes. */
function layout(nodes: { id: string }[], edges: { source: string; target: string }[]) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: WIDTH, height: HEIGHT });
  for (const e of edges) g.setEdge(e.source, e.target);
  dagre.layout(g);
  return new Map(nodes.map((n) => [n.id, g.node(n.id)]));
}

/**
 * A flow run's task runs as a graph, in their live states: a mapped task is one node with its children
 * counted by state; a very wide run, one node per task. Loaded on its own (not in the first page's code).
 */
export default function Schematic({ taskRuns }: { taskRuns: readonly SchematicTaskRun[] }) {
  const model = useMemo(() => buildSchematic(taskRuns), [taskRuns]);
  const shape = JSON.stringify([model.nodes.map((n) => n.id), model.edges.map((e) => e.id)]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `shape` stands for the nodes and edges
  const positions = useMemo(() => layout(model.nodes, model.edges), [shape]);
  const nodes: Node[] = model.nodes.map((n) => {
    const p = positions.get(n.id);
    return {
      id: n.id,
      position: { x: (p?.x ?? 0) - WIDTH / 2, y: (p?.y ?? 0) - HEIGHT / 2 },
      data: {
        label: (
          <div className="schematic-node" data-node-state={n.state}>
            <div className="schematic-name">{n.label}</div>
            <StateBadge state={n.state} />
            {n.counts ? (
              <div className="schematic-counts">
                {Object.entries(n.counts)
                  .map(([s, c]) => `${c} ${s}`)
                  .join(" · ")}
              </div>
            ) : null}
          </div>
        ),
      },
      style: { width: WIDTH },
      sourcePosition: Position.Right,
      targetPosition: Position.Left,
      connectable: false,
      draggable: false,
    };
  });
  const edges: Edge[] = model.edges.map((e) => ({ ...e, animated: false }));
  return (
    <div className="schematic" data-testid="schematic">
      {model.grouped ? (
        <div className="muted small">A wide run: one box per task, its runs counted by state.</div>
      ) : null}
      <ReactFlow
        nodes={nodes}
        edges={edges}
        fitView
        onlyRenderVisibleElements
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
