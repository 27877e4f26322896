import { graphql } from "@regent/client";
import { useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState } from "react";
import { useGql, useLiveInvalidation } from "../api.js";
import { ErrorBox } from "./Notice.js";

/** Newest lines a page loads at once; older ones page in with "Load older". */
const PAGE = 2_000;

const Logs = graphql(`
  query UiLogs($id: uuid!, $limit: Int!) {
    log(where: { flow_run_id: { _eq: $id } }, order_by: [{ seq: desc }], limit: $limit) {
      id seq level message timestamp task_run { task_name map_index }
    }
    log_aggregate(where: { flow_run_id: { _eq: $id } }) { aggregate { count } }
  }
`);
const LiveLogs = graphql(`
  subscription UiLiveLogs($id: uuid!) { flow_run_logs(flow_run_id: $id) { id } }
`);

const RANK: Record<string, number> = { DEBUG: 0, INFO: 1, WARN: 2, WARNING: 2, ERROR: 3, CRITICAL: 4 };
const rank = (level: string) => RANK[level.toUpperCase()] ?? 1;

/**
 * A run's logs, live: the newest lines, more as they are written, filtered by level and text; rows are
 * virtualised, so a run of 100,000 lines scrolls as one of ten. "Follow" keeps the newest in view.
 */
export function RunLogs({ flowRunId }: { flowRunId: string }) {
  const [limit, setLimit] = useState(PAGE);
  const key = ["logs", flowRunId, limit];
  const { data, error } = useGql(key, Logs, { id: flowRunId, limit }, { every: 10_000 });
  useLiveInvalidation(LiveLogs, { id: flowRunId }, [["logs", flowRunId]], { throttleMs: 300 });
  const queryClient = useQueryClient();
  useEffect(
    () => () => queryClient.removeQueries({ queryKey: ["logs", flowRunId] }),
    [queryClient, flowRunId],
  );
  const [level, setLevel] = useState(0);
  const [search, setSearch] = useState("");
  const [follow, setFollow] = useState(true);
  const lines = useMemo(() => {
    const needle = search.toLowerCase();
    return [...(data?.log ?? [])]
      .reverse()
      .filter((l) => rank(l.level) >= level && (!needle || l.message.toLowerCase().includes(needle)));
  }, [data, level, search]);
  const total = data?.log_aggregate.aggregate.count ?? 0;
  const parent = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({
    count: lines.length,
    getScrollElement: () => parent.current,
    estimateSize: () => 20,
    overscan: 20,
  });
  useEffect(() => {
    if (follow && lines.length > 0) rows.scrollToIndex(lines.length - 1, { align: "end" });
  }, [follow, lines.length, rows]);
  return (
    <div className="card logs">
      <div className="logs-head">
        <h2>Logs</h2>
        <select aria-label="Level" value={level} onChange={(e) => setLevel(Number(e.target.value))}>
          <option value={0}>all levels</option>
          <option value={1}>info and above</option>
          <option value={2}>warnings and errors</option>
          <option value={3}>errors</option>
        </select>
        <input
          type="search"
          aria-label="Search logs"
          placeholder="Search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
        </label>
        <span className="muted small">
          {lines.length.toLocaleString()} shown · {total.toLocaleString()} in all
        </span>
        {total > limit ? (
          <button type="button" onClick={() => setLimit((n) => n + PAGE)}>
            Load older
          </button>
        ) : null}
      </div>
      {error ? <ErrorBox error={error} what="load the logs" /> : null}
      {data && total === 0 ? <div className="muted">No log lines yet.</div> : null}
      <div ref={parent} className="log-view" data-testid="log-view">
        <div style={{ height: rows.getTotalSize(), position: "relative" }}>
          {rows.getVirtualItems().map((item) => {
            const l = lines[item.index];
            if (!l) return null;
            return (
              <div
                key={l.id}
                className={`log-line level-${l.level.toLowerCase()}`}
                style={{
                  position: "absolute",
                  top: 0,
                  transform: `translateY(${item.start}px)`,
                  width: "100%",
                }}
              >
                <span className="log-time">{new Date(l.timestamp).toLocaleTimeString()}</span>
                <span className="log-level">{l.level.toUpperCase()}</span>
                {l.task_run ? (
                  <span className="log-task">
                    {l.task_run.task_name}
                    {l.task_run.map_index >= 0 ? `[${l.task_run.map_index}]` : ""}
                  </span>
                ) : null}
                <span className="log-message">{l.message}</span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
