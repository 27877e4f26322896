import { Link } from "wouter";
import { ago, duration } from "../format.js";
import { StateBadge } from "./StateBadge.js";

export interface RunRow {
  id: string;
  name: string;
  state: string;
  state_message: string | null;
  scheduled_start_time: string;
  start_time: string | null;
  end_time: string | null;
  flow?: { id: string; name: string } | null;
}

/** Flow runs, newest first, each linking to its page. */
export function RunsTable({ runs, showFlow = true }: { runs: readonly RunRow[]; showFlow?: boolean }) {
  return (
    <table className="runs">
      <thead>
        <tr>
          <th>Run</th>
          {showFlow ? <th>Flow</th> : null}
          <th>State</th>
          <th>Scheduled</th>
          <th>Duration</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <td>
              <Link href={`/runs/${r.id}`}>{r.name}</Link>
            </td>
            {showFlow ? (
              <td>{r.flow ? <Link href={`/flows/${r.flow.id}`}>{r.flow.name}</Link> : "—"}</td>
            ) : null}
            <td title={r.state_message ?? ""}>
              <StateBadge state={r.state} />
            </td>
            <td>{ago(r.scheduled_start_time)}</td>
            <td>{r.start_time ? duration(r.start_time, r.end_time) : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
