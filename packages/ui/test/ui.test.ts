import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { migrateToLatest, openDatabase } from "@regent/server";
import {
  graphqlData,
  type RegentFixtures,
  seedFlowRuns,
  startRegentProcess,
  stopRegentProcesses,
  regentTest as test,
} from "@regent/testkit";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "@regent/testkit/chromium";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";

// The web UI end to end: a real server serving the built UI, a real local agent, Debian's Chromium
// driven by playwright-core. A person's path through it: find a flow, quick-run it with a parameter and
// a run-config override, watch it reach Success live, read its logs; a form refusing bad input; a run
// marked Failed. With REGENT_UI_SCREENSHOTS=<folder> it saves the main pages there (docs/ui).

const examples = new URL("../../../examples", import.meta.url).pathname;
const screenshots = process.env.REGENT_UI_SCREENSHOTS;

let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: run \`bash scripts/testbed/chromium.sh\` (npm test does)`,
    );
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
});
// The servers, agents and their executors each test started.
afterEach(async () => {
  await stopRegentProcesses();
});
afterAll(async () => {
  await browser?.close();
});

/** A server on a SQLite file in `tmp` with the examples registered into project demo, and a local agent. */
async function setUp(cli: RegentFixtures["cli"], tmp: string): Promise<string> {
  const server = startRegentProcess(["server", "start", "--db", join(tmp, "ui.db"), "--port", "0"]);
  const api = (await server.waitFor(/UI\s+(http:\/\/127\.0\.0\.1:\d+)\//))[1]!;
  expect((await cli(["project", "create", "demo", "--api", api])).code).toBe(0);
  const registered = await cli(["register", examples, "--project", "demo", "--api", api]);
  expect(registered.code, registered.stderr).toBe(0);
  startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--api", api]);
  return api;
}

async function shot(page: Page, name: string) {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

test("quick-run a flow with a parameter and a run-config override, watch it succeed live, read its logs", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${api}/`);
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  await shot(page, "dashboard");

  await page.getByRole("link", { name: "Flows", exact: true }).click();
  await page.getByRole("link", { name: "hello", exact: true }).click();
  await page.getByRole("heading", { name: "Quick run" }).waitFor();
  await shot(page, "flow");
  await page.locator("#param-name").fill("Ada");
  await page.getByText("Run options").click();
  await page.getByLabel(/Run config overrides/).fill('{ "env": { "GREETING_STYLE": "warm" } }');
  await page.getByRole("button", { name: "Run", exact: true }).click();

  // The run's page, live: no reload between Scheduled and Success.
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  const runId = page.url().split("/").pop()!;
  await page.locator("h1 [data-state='Success']").waitFor({ timeout: 30_000 });
  await page.getByTestId("log-view").getByText("Hello, Ada!").waitFor();
  await expect(
    page.getByTestId("task-runs").locator("[data-state='Success']").count(),
  ).resolves.toBeGreaterThan(0);
  await expect(page.getByTestId("run-config").textContent()).resolves.toContain("GREETING_STYLE");
  await page.getByTestId("schematic").locator("[data-node-state='Success']").getByText("say-hello").waitFor();
  await shot(page, "flow-run");
  const { flow_run_by_pk } = await graphqlData(
    api,
    `query($id: uuid!) { flow_run_by_pk(id: $id) { name state parameters run_config } }`,
    { id: runId },
  );
  expect(flow_run_by_pk).toMatchObject({
    state: "Success",
    parameters: { name: "Ada" },
    run_config: { env: { GREETING_STYLE: "warm" } },
  });

  // Deep links: the runs list and this run open directly by URL.
  await page.goto(`${api}/runs?state=Success`);
  await page.getByRole("cell").filter({ hasText: "hello" }).first().waitFor();
  await page.getByRole("link", { name: flow_run_by_pk.name }).waitFor();
  await shot(page, "flow-runs");
  await page.goto(`${api}/agents`);
  await page.getByText("healthy").first().waitFor();
  await shot(page, "agents");
  expect(errors).toEqual([]);
}, 90_000);

test("the quick-run form refuses bad input in place, and a run can be marked Failed", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  const page = await browser.newPage();
  const { flow } = await graphqlData(api, `{ flow(where: { name: { _eq: "etl" } }) { id } }`);
  await page.goto(`${api}/flows/${flow[0].id}`);
  await page.getByRole("heading", { name: "Quick run" }).waitFor();
  const rows = page.locator("#param-rows");
  await rows.fill("0");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.getByText("must be at least 1").waitFor();
  await rows.fill("2.5");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.getByText("must be a whole number").waitFor();
  await rows.fill("3");
  await page.getByText("Run options").click();
  await page.getByLabel(/Run config overrides/).fill('{ "env": 5 }');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.getByText(/invalid run_config: env: /).waitFor();
  expect(page.url()).toMatch(/\/flows\//); // nothing was started (runs of its schedule aside)
  const { flow_run_aggregate } = await graphqlData(
    api,
    `{ flow_run_aggregate(where: { auto_scheduled: { _eq: false } }) { aggregate { count } } }`,
  );
  expect(flow_run_aggregate.aggregate.count).toBe(0);

  // A run no agent will take (a label none carries): marked Failed from its page.
  const { create_flow_run } = await graphqlData(
    api,
    `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id, labels: ["nowhere"] }) { id } }`,
    { id: flow[0].id },
  );
  await page.goto(`${api}/runs/${create_flow_run.id}`);
  await page.locator("h1 [data-state='Scheduled']").waitFor();
  await page.getByRole("button", { name: "Mark Failed" }).click();
  await page.getByRole("button", { name: "Yes" }).click();
  await page.locator("h1 [data-state='Failed']").waitFor();
  await page.getByText("marked Failed from the UI").first().waitFor();
}, 90_000);

test("with 100,000 runs and a 100,000-line log, each page reads a page from the server, not the table", async ({
  tmp,
}) => {
  const file = join(tmp, "big.db");
  const database = await openDatabase(file);
  await migrateToLatest(database);
  const { loggedRunId } = await seedFlowRuns(database, {
    project: "big",
    name: "wide",
    runs: 100_000,
    logLines: 100_000,
  });
  await database.close();
  const server = startRegentProcess(["server", "start", "--db", file, "--port", "0"]);
  const api = (await server.waitFor(/UI\s+(http:\/\/127\.0\.0\.1:\d+)\//))[1]!;
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const asked: { operation: string; variables: Record<string, unknown> }[] = [];
  page.on("request", (r) => {
    if (!r.url().endsWith("/graphql") || r.method() !== "POST") return;
    const body = JSON.parse(r.postData() ?? "{}") as { query?: string; variables?: Record<string, unknown> };
    asked.push({
      operation: /(?:query|subscription) (\w+)/.exec(body.query ?? "")?.[1] ?? "?",
      variables: body.variables ?? {},
    });
  });

  await page.goto(`${api}/runs`);
  await page.getByText("1–50 of 100,000").waitFor();
  expect(await page.locator("table.runs tbody tr").count()).toBe(50);
  await page.getByRole("button", { name: "Older →" }).click();
  await page.getByText("51–100 of 100,000").waitFor();
  expect(page.url()).toMatch(/\/runs\?offset=50$/);
  await page.goto(`${api}/runs?state=Failed`);
  await page.getByText("1–50 of 25,000").waitFor();
  const lists = asked.filter((a) => a.operation === "UiRuns");
  expect(lists.length).toBeGreaterThan(0);
  for (const a of lists) expect(a.variables.limit).toBe(50);

  // The run with the long log: the newest 2,000 lines loaded, a screenful of them in the page.
  await page.goto(`${api}/runs/${loggedRunId}`);
  await page.getByText("2,000 shown · 100,000 in all").waitFor();
  await page.getByTestId("log-view").getByText("line 99999 of a long run").waitFor();
  expect(await page.locator(".log-line").count()).toBeLessThan(200);
  for (const a of asked.filter((x) => x.operation === "UiLogs")) expect(a.variables.limit).toBe(2_000);
  await page.getByRole("button", { name: "Load older" }).click();
  await page.getByText("4,000 shown · 100,000 in all").waitFor();

  // The dashboard counts in the database.
  await page.goto(`${api}/`);
  await page.getByTestId("run-chart").waitFor();
  await page.getByText("Running now", { exact: true }).first().waitFor();
  await shot(page, "dashboard-100k");
}, 240_000);

test("on a server that requires keys: sign in with a key, create and revoke keys, set and delete secrets in Settings; run configs show passwords masked", async ({
  cli,
  tmp,
}) => {
  const db = join(tmp, "auth.db");
  const boot = await cli(["auth", "create-key", "--name", "boot", "--scope", "admin", "--json", "--db", db]);
  expect(boot.code, boot.stderr).toBe(0);
  const admin = JSON.parse(boot.stdout).key as string;
  const server = startRegentProcess(["server", "start", "--db", db, "--port", "0"], {
    REGENT__SERVER__AUTH: "required",
  });
  const api = (await server.waitFor(/UI\s+(http:\/\/127\.0\.0\.1:\d+)\//))[1]!;
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));

  await page.goto(`${api}/settings`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByText(/requires an API key/).waitFor();
  // A wrong key is refused in place and not kept.
  await page.getByLabel("API key").fill("rgt_wrongwrongwrongwrongwrongwrongwrongwrong123");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(/not known to this server/).waitFor();
  await page.getByLabel("API key").fill(admin);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  await page.getByText("Signed in with key").waitFor();

  // A new key is shown once; the list shows its prefix only.
  await page.getByLabel("Name", { exact: true }).fill("ci-bot");
  await page.getByLabel("Scope").selectOption("runner");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-key").textContent())!;
  expect(key).toMatch(/^rgt_/);
  const row = page.locator("tr", { hasText: "ci-bot" });
  await row.getByText("runner").waitFor();
  expect(await page.locator("table").textContent()).not.toContain(key.slice(12));
  const { auth_info } = await graphqlData(api, `{ auth_info { scope key_name } }`, {}, { apiKey: key });
  expect(auth_info).toEqual({ scope: "runner", key_name: "ci-bot" });

  page.once("dialog", (d) => void d.accept());
  await row.getByRole("button", { name: "Revoke" }).click();
  await row.getByText(/revoked/).waitFor();
  const refused = await fetch(`${api}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: "{ auth_info { scope } }" }),
  });
  expect(refused.status).toBe(401);

  // Secrets: set here, listed by name, the value never shown; deleted.
  await page.getByLabel("Secret name").fill("WAREHOUSE_PASSWORD");
  await page.getByLabel("Value").fill("hunter2-in-the-browser");
  await page.getByRole("button", { name: "Set secret" }).click();
  const secretRow = page.getByTestId("secrets").locator("tr", { hasText: "WAREHOUSE_PASSWORD" });
  await secretRow.waitFor();
  expect(await page.locator("body").textContent()).not.toContain("hunter2-in-the-browser");
  await expect(page.getByLabel("Value").inputValue()).resolves.toBe("");
  const { secret_value } = await graphqlData(
    api,
    `{ secret_value(name: "WAREHOUSE_PASSWORD") }`,
    {},
    { apiKey: admin },
  );
  expect(secret_value).toBe("hunter2-in-the-browser");
  page.once("dialog", (d) => void d.accept());
  await secretRow.getByRole("button", { name: "Delete" }).click();
  await page.getByText(/No secrets yet/).waitFor();

  // A run config with a password written into it shows the password masked.
  const { create_project } = await graphqlData(
    api,
    `mutation { create_project(input: { name: "p" }) { id } }`,
    {},
    { apiKey: admin },
  );
  const { register_flow } = await graphqlData(
    api,
    `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
    {
      input: {
        project_id: create_project.id,
        name: "configured",
        content_hash: "configured",
        run_config: { type: "local", env: { DB_PASSWORD: "plain-text-password", REGION: "eu-west-1" } },
        storage: { type: "docker", image: "registry.example.com:5000/flows/etl@sha256:abc" },
      },
    },
    { apiKey: admin },
  );
  await page.goto(`${api}/flows/${register_flow.id}`);
  const shown = page.getByTestId("flow-run-config");
  await shown.waitFor();
  expect(await shown.textContent()).toBe('{"type":"local","env":{"DB_PASSWORD":"***","REGION":"eu-west-1"}}');
  // A flow with Docker storage names the exact image its runs use.
  expect(await page.getByTestId("flow-storage-image").textContent()).toBe(
    "registry.example.com:5000/flows/etl@sha256:abc",
  );
  expect(await page.locator("body").textContent()).not.toContain("plain-text-password");
  await page.goto(`${api}/settings`);

  // Signing out asks for a key again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  expect(errors).toEqual([]);
  await context.close();
}, 90_000);

test("markup in flow names, run names, labels, task names and log lines renders as text", async ({ tmp }) => {
  const server = startRegentProcess(["server", "start", "--db", join(tmp, "xss.db"), "--port", "0"]);
  const api = (await server.waitFor(/UI\s+(http:\/\/127\.0\.0\.1:\d+)\//))[1]!;
  const payload = (n: number) => `<img src=x onerror="window.__xss=${n}"><script>window.__xss=${n}</script>`;
  const { create_project } = await graphqlData(
    api,
    `mutation { create_project(input: { name: "xss" }) { id } }`,
  );
  const { register_flow } = await graphqlData(
    api,
    `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
    {
      input: {
        project_id: create_project.id,
        name: payload(1),
        description: payload(2),
        labels: [payload(3)],
        parameters_schema: {
          type: "object",
          properties: { [payload(4)]: { type: "string", default: payload(5) } },
        },
        content_hash: "xss",
      },
    },
  );
  const { create_flow_run } = await graphqlData(
    api,
    `mutation($id: uuid!, $name: String!, $at: timestamptz!) { create_flow_run(input: { flow_id: $id, flow_run_name: $name, scheduled_start_time: $at }) { id } }`,
    // An hour ahead: the dashboard lists it under upcoming whatever the minute.
    { id: register_flow.id, name: payload(6), at: new Date(Date.now() + 3_600_000).toISOString() },
  );
  const runId = create_flow_run.id as string;
  const taskRunId = crypto.randomUUID();
  await graphqlData(
    api,
    `mutation($input: create_task_runs_input!) { create_task_runs(input: $input) { count } }`,
    {
      input: {
        task_runs: [
          { id: taskRunId, flow_run_id: runId, task_key: payload(7), task_name: payload(8), run_key: "x#1" },
        ],
      },
    },
  );
  await graphqlData(
    api,
    `mutation($input: write_run_logs_input!) { write_run_logs(input: $input) { count } }`,
    {
      input: { logs: [{ flow_run_id: runId, task_run_id: taskRunId, level: "error", message: payload(9) }] },
    },
  );

  const page = await browser.newPage();
  // Each page shows some of the markup, as text.
  for (const path of ["/", "/flows", `/flows/${register_flow.id}`, "/runs", `/runs/${runId}`]) {
    await page.goto(`${api}${path}`);
    await page.getByText('<img src=x onerror="window.__xss=').first().waitFor();
  }
  await page.getByTestId("log-view").getByText(payload(9)).waitFor();
  await page.getByText(payload(6)).first().waitFor();
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  expect(await page.locator("main img, main script").count()).toBe(0);
  await page.close();
}, 60_000);

test("projects without flows are listed; a scheduled flow's page shows its clocks and next fire times, and pauses and resumes the schedule", async ({
  cli,
  tmp,
}) => {
  const api = await setUp(cli, tmp);
  await graphqlData(api, `mutation { create_project(input: { name: "empty" }) { id } }`);
  const page = await browser.newPage();
  await page.goto(`${api}/flows`);
  // Every project is listed, one without flows too, saying how to add some.
  await page.getByRole("heading", { name: "Project empty" }).waitFor();
  await page.getByText("npx regent register flows/ --project empty").waitFor();
  await page.getByRole("link", { name: "report", exact: true }).click();
  const card = page.getByTestId("schedule");
  await card.getByText("cron 0 6 * * * (Europe/Paris)").waitFor();
  await card.getByText("cron 0 6 * * * (America/New_York)").waitFor();
  await expect(card.locator(".fire-times li").count()).resolves.toBe(5);
  await card.getByText('{"region":"us"}').first().waitFor();
  const flowId = page.url().split("/").pop()!;
  const active = async () =>
    (await graphqlData(api, `query($id: uuid!) { flow_by_pk(id: $id) { schedule_active } }`, { id: flowId }))
      .flow_by_pk.schedule_active;
  expect(await active()).toBe(true);

  await card.getByRole("button", { name: "Pause schedule" }).click();
  await card.getByText("Paused: no runs are created").waitFor();
  expect(await active()).toBe(false);
  await card.getByRole("button", { name: "Resume schedule" }).click();
  await card.locator(".fire-times li").first().waitFor();
  expect(await active()).toBe(true);
  await page.close();
}, 90_000);
