import { graphql } from "@regent/client";
import { useState } from "react";
import { Link } from "wouter";
import { useGql } from "../api.js";
import { Empty, ErrorBox, Loading } from "../components/Notice.js";
import { ago } from "../format.js";

const Flows = graphql(`
  query UiFlows($search: String!) {
    flow(where: { archived: { _eq: false }, name: { _ilike: $search } }, order_by: [{ name: asc }], limit: 500) {
      id name version description schedule_active schedule updated
      project { id name }
    }
    project(order_by: [{ name: asc }], limit: 500) { id name description }
  }
`);

/** Projects and their flows (the current version of each), searchable by name. */
export function FlowsPage() {
  const [search, setSearch] = useState("");
  const { data, error, isPending } = useGql(
    ["flows", search],
    Flows,
    { search: `%${search}%` },
    { every: 5_000 },
  );
  const byProject = new Map<string, NonNullable<typeof data>["flow"]>();
  // Every project, those without flows too (unless a search is narrowing the list).
  if (!search) for (const p of data?.project ?? []) byProject.set(p.name, []);
  for (const f of data?.flow ?? []) {
    const key = f.project?.name ?? "(no project)";
    byProject.set(key, [...(byProject.get(key) ?? []), f]);
  }
  return (
    <section>
      <div className="page-head">
        <h1>Flows</h1>
        <input
          className="search"
          type="search"
          placeholder="Search flows by name"
          aria-label="Search flows"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </div>
      {error ? <ErrorBox error={error} what="load the flows" /> : null}
      {isPending ? <Loading /> : null}
      {data && data.flow.length === 0 && (search || data.project.length === 0) ? (
        search ? (
          <Empty title={`No flow matches “${search}”.`} />
        ) : (
          <Empty title="No flows registered yet.">
            Register one with <code>npx regent register flows/ --project demo</code>, or start the demo with{" "}
            <code>npm start</code>.
          </Empty>
        )
      ) : null}
      {[...byProject].map(([project, flows]) => (
        <div key={project} className="card">
          <h2>Project {project}</h2>
          {flows.length === 0 ? (
            <p className="muted">
              No flows yet: register some with <code>npx regent register flows/ --project {project}</code>.
            </p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Flow</th>
                  <th>Version</th>
                  <th>Schedule</th>
                  <th>Updated</th>
                </tr>
              </thead>
              <tbody>
                {flows.map((f) => (
                  <tr key={f.id}>
                    <td>
                      <Link href={`/flows/${f.id}`}>{f.name}</Link>
                      {f.description ? <div className="muted small">{f.description}</div> : null}
                    </td>
                    <td>v{f.version}</td>
                    <td>{f.schedule ? (f.schedule_active ? "on" : "off") : "—"}</td>
                    <td>{ago(f.updated)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ))}
    </section>
  );
}
