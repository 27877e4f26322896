import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Api, startApi } from "./helpers.js";

// The built web UI served at / beside the API: its files, index.html for the UI's own URLs (deep
// links), headers that keep other origins out, and nothing outside its folder.

let api: Api;
let bare: Api;
let top: string;
beforeAll(async () => {
  top = mkdtempSync(join(tmpdir(), "regent-ui-"));
  const dir = join(top, "dist");
  mkdirSync(join(dir, "assets"), { recursive: true });
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>Regent UI</title>");
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log('ui')");
  writeFileSync(join(top, "secret.txt"), "not for the web");
  api = await startApi("sqlite", { uiDir: dir, services: false });
  bare = await startApi("sqlite", { services: false });
});
afterAll(async () => {
  await api?.close();
  await bare?.close();
  rmSync(top, { recursive: true, force: true });
});

/** A GET with the path sent as it is (fetch would resolve ../ and %2e%2e before sending). */
const rawGet = (base: string, path: string) =>
  new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });

test("/ and every page's URL answer the UI's index.html, with headers that keep other origins out", async () => {
  for (const path of ["/", "/flows", "/runs/01a2-whatever", "/runs?state=Failed"]) {
    const r = await rawGet(api.server.url, path);
    expect(r.status, path).toBe(200);
    expect(r.body).toContain("<title>Regent UI</title>");
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(r.headers["cache-control"]).toBe("no-cache");
    expect(r.headers["content-security-policy"]).toMatch(/default-src 'self'; script-src 'self'/);
    expect(r.headers["x-frame-options"]).toBe("DENY");
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
  }
});

test("hashed assets are served with their type and cached for good; a missing one is a 404", async () => {
  const js = await rawGet(api.server.url, "/assets/index-abc123.js");
  expect([js.status, js.headers["content-type"], js.body]).toEqual([
    200,
    "text/javascript; charset=utf-8",
    "console.log('ui')",
  ]);
  expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
  expect((await rawGet(api.server.url, "/assets/gone.js")).status).toBe(404);
});

test("nothing outside the UI's folder is served", async () => {
  for (const path of [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/assets/..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
  ]) {
    const r = await rawGet(api.server.url, path);
    expect(r.body, path).not.toContain("not for the web");
  }
});

test("the API, /health and /metrics are still theirs", async () => {
  expect((await api.ok("{ project { id } }")).project).toEqual([]);
  expect((await rawGet(api.server.url, "/health")).status).toBe(200);
  expect((await rawGet(api.server.url, "/metrics")).body).toContain("regent_");
});

test("a server without a built UI says at / where the API is and how to build the UI", async () => {
  const r = await rawGet(bare.server.url, "/");
  expect(r.status).toBe(200);
  expect(r.body).toMatch(/GraphQL API is at <a href="\/graphql">/);
  expect(r.body).toMatch(/npm run build/);
  expect((await rawGet(bare.server.url, "/flows")).status).toBe(404);
});
