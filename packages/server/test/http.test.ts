import { readFileSync } from "node:fs";
import { BACKENDS } from "@regent/testkit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { printSdl } from "../src/index.js";
import { type Api, startApi } from "./helpers.js";

test("schema.graphql is the SDL the code defines (regenerate: npm run sdl -w @regent/server)", () => {
  const committed = readFileSync(new URL("../schema.graphql", import.meta.url), "utf8");
  expect(committed).toBe(printSdl());
});

describe("HTTP edge cases (sqlite)", () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(BACKENDS.includes("sqlite") ? "sqlite" : BACKENDS[0]!, {
      maxBodyBytes: 64 * 1024,
      maxCost: 1000,
    });
  });
  afterAll(async () => {
    await api.close();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(api.server.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });

  test("malformed JSON is a 400 with a message, and the server keeps serving", async () => {
    const r = await post("{bad");
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toMatch(/invalid JSON/i);
    expect((await api.ok("{ project { id } }")).project).toEqual([]);
  });

  test("a syntax error comes back as standard errors with locations", async () => {
    const r = await api.gql("{ project { id }");
    expect(r.errors?.[0].message).toMatch(/Syntax Error/);
    expect(r.errors?.[0].locations).toEqual([{ line: 1, column: 17 }]);
  });

  test("a validation error names the field", async () => {
    const r = await api.gql("{ project { nope } }");
    expect(r.errors?.[0].message).toMatch(/Cannot query field "nope" on type "project"/);
  });

  test("variables sent as a JSON-encoded string are accepted", async () => {
    const r = await post(
      JSON.stringify({
        query: "mutation($n: String!) { create_project(input: { name: $n }) { id } }",
        variables: JSON.stringify({ n: "s" }),
      }),
    );
    const body = (await r.json()) as { data: { create_project: { id: string } } };
    expect(body.data.create_project.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("a bad uuid or timestamp is refused by its scalar", async () => {
    const r = await api.gql(`{ flow_run_by_pk(id: "42") { id } }`);
    expect(r.errors?.[0].message).toMatch(/not a uuid/);
  });

  test("queries deeper than the limit and bodies over the limit are refused", async () => {
    let deep = "id";
    for (let i = 0; i < 8; i++) deep = `flow { project { flows { ${deep} } } }`;
    const r = await api.gql(`{ flow_run { ${deep} } }`);
    expect(JSON.stringify(r.errors)).toMatch(/depth/i);
    const big = await post(
      JSON.stringify({ query: `{ project { id } }`, variables: { pad: "x".repeat(100 * 1024) } }),
    );
    expect(big.status).toBe(413);
  });

  test("queries with too many aliases or too high a cost are refused", async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: project { id }`).join(" ");
    expect(JSON.stringify((await api.gql(`{ ${aliases} }`)).errors)).toMatch(/aliases/i);
    // ~3,400 by graphql-armor's cost model, over this suite's limit of 1,000 (the default is 5,000)
    const deep =
      "flow_run { id name state flow { name project { name flows { name flow_runs { id state task_runs { id state logs { message } } } } } } }";
    const wide = Array.from({ length: 25 }, (_, i) => `f${i}: ${deep}`).join(" ");
    expect(JSON.stringify((await api.gql(`{ ${wide} }`)).errors)).toMatch(
      /Query Cost limit of 1000 exceeded/,
    );
    expect(
      (await api.gql(`{ flow_run(limit: 10) { id flow { name project { name } } task_runs { id state } } }`))
        .errors,
    ).toBeUndefined();
  });

  test("/ says where the API is (until the web UI is served there); other paths are 404", async () => {
    const root = await fetch(`${api.server.url}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toMatch(/The GraphQL API is at <a href="\/graphql">/);
    expect((await fetch(`${api.server.url}/nope`)).status).toBe(404);
  });

  test("/health and /metrics", async () => {
    const health = await fetch(`${api.server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", database: "ok" });
    const metrics = await (await fetch(`${api.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^regent_http_requests_total\{route="\/graphql",status="200"\} \d+/m);
    expect(metrics).toMatch(/regent_process_resident_memory_bytes/);
  });
});
