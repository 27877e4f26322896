import { graphql } from "@regent/client";
import { useGql } from "../api.js";
import { Empty, ErrorBox, Loading } from "../components/Notice.js";
import { ago } from "../format.js";

const Agents = graphql(`
  query UiAgents {
    agent(order_by: [{ last_seen: desc }], limit: 200) { id name type labels accept_unlabeled last_seen created }
  }
`);

/** An agent not heard from for this long is shown as gone (the server's agent_timeout default). */
export const AGENT_GONE_MS = 60_000;

/** The agents that registered, with their labels and when each was last heard from. */
export function AgentsPage() {
  const { data, error, isPending } = useGql(["agents"], Agents, {}, { every: 5_000 });
  return (
    <section>
      <div className="page-head">
        <h1>Agents</h1>
      </div>
      {error ? <ErrorBox error={error} what="load the agents" /> : null}
      {isPending ? <Loading /> : null}
      {data && data.agent.length === 0 ? (
        <Empty title="No agent has registered.">
          Runs wait Scheduled until one does: start one with <code>npx regent agent local start</code>.
        </Empty>
      ) : null}
      {data && data.agent.length > 0 ? (
        <div className="card">
          <table>
            <thead>
              <tr>
                <th>Agent</th>
                <th>Type</th>
                <th>Labels</th>
                <th>Last seen</th>
                <th>Health</th>
              </tr>
            </thead>
            <tbody>
              {data.agent.map((a) => {
                const alive = Date.now() - Date.parse(a.last_seen) < AGENT_GONE_MS;
                return (
                  <tr key={a.id}>
                    <td>{a.name}</td>
                    <td>{a.type}</td>
                    <td>
                      {(a.labels as string[]).join(", ") || "none"}
                      {a.accept_unlabeled ? " (+ unlabeled runs)" : ""}
                    </td>
                    <td>{ago(a.last_seen)}</td>
                    <td>
                      <span className={`state ${alive ? "state-ok" : "state-muted"}`}>
                        {alive ? "healthy" : "gone"}
                      </span>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
