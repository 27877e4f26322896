// @vitest-environment happy-dom

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { graphqlData, startRegentProcess, stopRegentProcesses } from "@regent/testkit";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";

// The quick-run form as a component, in happy-dom, against a real server (its own process): fields made
// from the schema, values refused inline before anything is sent, the server's own refusals placed on
// their fields, and a valid run created with the typed values.

const SCHEMA = {
  type: "object",
  properties: {
    name: { type: "string", default: "world" },
    rows: { type: "integer", minimum: 1, maximum: 100, default: 5 },
    region: { type: "string", enum: ["eu", "us"] },
    dryRun: { type: "boolean", default: false },
  },
  required: ["name", "rows", "region"],
};

let api: string;
let flowId: string;
let QuickRun: typeof import("./QuickRun.js").QuickRun;
const tmp = mkdtempSync(join(tmpdir(), "regent-quickrun-"));

beforeAll(async () => {
  const server = startRegentProcess(["server", "start", "--db", join(tmp, "q.db"), "--port", "0"]);
  api = (await server.waitFor(/API\s+(http:\/\/127\.0\.0\.1:\d+)\/graphql/))[1]!;
  // The UI's client talks to its own origin (and the server allows no other): this page's is the server's.
  (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${api}/flows`);
  const { create_project } = await graphqlData(
    api,
    `mutation { create_project(input: { name: "p" }) { id } }`,
  );
  const { register_flow } = await graphqlData(
    api,
    `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
    { input: { project_id: create_project.id, name: "etl", parameters_schema: SCHEMA, content_hash: "q" } },
  );
  flowId = register_flow.id;
  ({ QuickRun } = await import("./QuickRun.js"));
}, 60_000);
afterEach(() => cleanup());
afterAll(async () => {
  await stopRegentProcesses();
  rmSync(tmp, { recursive: true, force: true });
});

const runs = async () =>
  (await graphqlData(api, `{ flow_run(order_by: [{ created: asc }]) { parameters labels name } }`)).flow_run;

function renderForm(schema: unknown = SCHEMA, runConfig: unknown = { type: "local" }, id = flowId) {
  const queryClient = new QueryClient({ defaultOptions: { mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <QuickRun flowId={id} parametersSchema={schema} runConfig={runConfig} labels={["prod"]} />
    </QueryClientProvider>,
  );
}

const input = (label: string) => screen.getByLabelText(new RegExp(`^${label}`)) as HTMLInputElement;

describe("QuickRun", () => {
  test("one field per parameter, typed and filled with its default; required ones marked", () => {
    renderForm();
    expect(input("name").value).toBe("world");
    expect(input("rows").value).toBe("5");
    expect(input("rows").type).toBe("number");
    const region = screen.getByLabelText(/^region/) as HTMLSelectElement;
    expect([...region.options].map((o) => o.value)).toEqual(["", "eu", "us"]);
    expect((screen.getByLabelText(/^dryRun/) as HTMLInputElement).type).toBe("checkbox");
    expect(screen.getByText("region").parentElement?.textContent).toContain("*");
  });

  test("refuses bad values inline, next to their fields, and sends nothing", async () => {
    renderForm();
    fireEvent.change(input("rows"), { target: { value: "0" } });
    fireEvent.change(screen.getByLabelText(/^Run config overrides/), { target: { value: '{ "cpu": ' } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByText(/rows.*|must be/i, { selector: ".error-text" });
    const errors = [...document.querySelectorAll(".field-error")].map((e) => e.textContent);
    expect(errors.some((t) => t?.startsWith("rows") && /1/.test(t))).toBe(true);
    expect(errors.some((t) => t?.startsWith("region"))).toBe(true);
    expect(errors.some((t) => t?.includes("not valid JSON"))).toBe(true);
    expect(input("rows").getAttribute("aria-invalid")).toBe("true");
    expect(await runs()).toEqual([]);
  });

  test("a valid form creates the run with the typed values, name and labels", async () => {
    renderForm();
    fireEvent.change(input("rows"), { target: { value: "42" } });
    fireEvent.change(screen.getByLabelText(/^region/), { target: { value: "us" } });
    fireEvent.click(screen.getByLabelText(/^dryRun/));
    fireEvent.change(screen.getByLabelText("Run name"), { target: { value: "from-the-form" } });
    fireEvent.change(screen.getByLabelText(/^Labels/), { target: { value: "gpu, eu" } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    await waitFor(async () => expect(await runs()).toHaveLength(1), { timeout: 10_000 });
    expect(await runs()).toEqual([
      {
        parameters: { name: "world", rows: 42, region: "us", dryRun: true },
        labels: ["eu", "gpu"], // the server keeps labels sorted
        name: "from-the-form",
      },
    ]);
  });

  test("the server's refusal of a value the form let through lands on its field", async () => {
    // The form's copy of the schema says nothing of the maximum; the server's stored one does.
    const loose = { ...SCHEMA, properties: { ...SCHEMA.properties, rows: { type: "integer", default: 5 } } };
    renderForm(loose);
    fireEvent.change(input("rows"), { target: { value: "1000" } });
    fireEvent.change(screen.getByLabelText(/^region/), { target: { value: "eu" } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    await waitFor(() => expect(input("rows").getAttribute("aria-invalid")).toBe("true"), { timeout: 10_000 });
    expect(input("rows").closest(".field")?.textContent).toMatch(/100/);
    expect(await runs()).toHaveLength(1); // only the one before
  });

  test("a flow on Fargate Spot: CPU and memory fields in its units, sizes Fargate lacks refused inline, a valid one sent", async () => {
    const ecs = {
      type: "ecs",
      cpu: 512,
      memory: 1024,
      capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT" }],
    };
    const { create_project } = await graphqlData(
      api,
      `mutation { create_project(input: { name: "ecs" }) { id } }`,
    );
    const { register_flow } = await graphqlData(
      api,
      `mutation($input: register_flow_input!) { register_flow(input: $input) { id } }`,
      { input: { project_id: create_project.id, name: "on-spot", run_config: ecs, content_hash: "spot" } },
    );
    renderForm({ type: "object", properties: {} }, ecs, register_flow.id);
    const cpu = screen.getByLabelText(/^CPU \(units/) as HTMLSelectElement;
    expect([...cpu.options].map((o) => o.value)).toEqual([
      "",
      "256",
      "512",
      "1024",
      "2048",
      "4096",
      "8192",
      "16384",
    ]);
    fireEvent.change(cpu, { target: { value: "1024" } });
    expect(screen.getByText(/Fargate with 1024 CPU units: 2048–8192 MiB/)).toBeTruthy();
    const memory = screen.getByLabelText(/^Memory \(MiB\)/) as HTMLInputElement;
    expect(memory.placeholder).toBe("the flow's: 1024");
    fireEvent.change(memory, { target: { value: "1024" } });
    const before = (await runs()).length;
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByText(/Fargate has no task size with cpu 1024 and memory 1024 MiB/);
    expect(await runs()).toHaveLength(before);

    fireEvent.change(memory, { target: { value: "4096" } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    const created = async () =>
      (
        await graphqlData(
          api,
          `{ flow_run(where: { flow_id: { _eq: "${register_flow.id}" } }) { run_config } }`,
        )
      ).flow_run;
    await waitFor(async () => expect(await created()).toHaveLength(1), { timeout: 10_000 });
    expect(await created()).toEqual([{ run_config: { cpu: 1024, memory: 4096 } }]);
  });
});
