import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Link, Route, Switch, useLocation } from "wouter";
import { errorCode, errorMessage, useGql } from "./api.js";
import { Empty } from "./components/Notice.js";
import { AuthInfo, SignIn } from "./components/SignIn.js";
import { AgentsPage } from "./pages/Agents.js";
import { DashboardPage } from "./pages/Dashboard.js";
import { FlowDetailPage } from "./pages/Flow.js";
import { FlowRunPage } from "./pages/FlowRun.js";
import { FlowsPage } from "./pages/Flows.js";
import { RunsPage } from "./pages/Runs.js";
import { SettingsPage } from "./pages/Settings.js";
import "./styles.css";

const queryClient: QueryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A refused key is not retried: the sign-in form takes over.
      retry: (count, error) => count < 1 && errorCode(error) !== "UNAUTHENTICATED",
      refetchOnWindowFocus: true,
      staleTime: 1_000,
    },
  },
  queryCache: new QueryCache({
    // A key revoked or expired while the page is open: ask who we are again, which shows the sign-in.
    onError: (error, query) => {
      if (errorCode(error) === "UNAUTHENTICATED" && query.queryKey[0] !== "auth")
        void queryClient.invalidateQueries({ queryKey: ["auth"] });
    },
  }),
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
      {item("/settings", "Settings")}
    </nav>
  );
}

function App() {
  // Pages load alongside this question, not after it (no extra round trip on a server without keys);
  // a server that wants a key refuses them too, and the sign-in replaces the page.
  const auth = useGql(["auth"], AuthInfo, {});
  if (auth.error && errorCode(auth.error) === "UNAUTHENTICATED")
    return (
      <main>
        <SignIn problem={errorMessage(auth.error)} />
      </main>
    );
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
          <Route path="/settings" component={SettingsPage} />
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
