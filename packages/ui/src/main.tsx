import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Link, Route, Switch, useLocation } from "wouter";
import { Empty } from "./components/Notice.js";
import { AgentsPage } from "./pages/Agents.js";
import { DashboardPage } from "./pages/Dashboard.js";
import { FlowDetailPage } from "./pages/Flow.js";
import { FlowRunPage } from "./pages/FlowRun.js";
import { FlowsPage } from "./pages/Flows.js";
import { RunsPage } from "./pages/Runs.js";
import "./styles.css";

const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: true, staleTime: 1_000 } },
});

function Nav() {
  const [location] = useLocation();
  const item = (href: string, label: string) => (
    <Link
      href={href}
      className={location === href || (href !== "/" && location.startsWith(href)) ? "active" : ""}
    >
      {label}
    </Link>
  );
  return (
    <nav className="nav">
      <Link href="/" className="brand">
        Regent
      </Link>
      {item("/", "Dashboard")}
      {item("/flows", "Flows")}
      {item("/runs", "Flow runs")}
      {item("/agents", "Agents")}
    </nav>
  );
}

function App() {
  return (
    <>
      <Nav />
      <main>
        <Switch>
          <Route path="/" component={DashboardPage} />
          <Route path="/flows" component={FlowsPage} />
          <Route path="/flows/:id">{(p) => <FlowDetailPage key={p.id} id={p.id} />}</Route>
          <Route path="/runs" component={RunsPage} />
          <Route path="/runs/:id">{(p) => <FlowRunPage key={p.id} id={p.id} />}</Route>
          <Route path="/agents" component={AgentsPage} />
          <Route>
            <Empty title="No such page.">
              <Link href="/">Go to the dashboard</Link>.
            </Empty>
          </Route>
        </Switch>
      </main>
    </>
  );
}

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
