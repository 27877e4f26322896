import { request } from "node:http";
import { afterEach, beforeEach, expect, test } from "vitest";
import { TABLES, type TableName } from "../src/index.js";
import { type Api, seedFlow, startApi } from "./helpers.js";

// Thousands of malformed, oversized, deeply nested and type-confused requests, and random bytes, from a
// seeded generator (bounded in count and time, loopback only): each gets an error answer, the server
// never crashes or reports an internal error, and the database is unchanged.

const COUNT = 3_000;
const BUDGET_MS = 60_000;

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function generator(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Attempt {
  kind: string;
  body: Buffer | string;
  contentType?: string;
  /** Declared length, when it is to differ from the body's. */
  length?: number;
  key?: string;
}

function makeAttempt(random: () => number, ids: { flowId: string; projectId: string }): Attempt {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (n: number) => Math.floor(random() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const confused = () =>
    pick<unknown>([
      null,
      123,
      -1.5e308,
      true,
      "",
      "x".repeat(int(200)),
      [],
      [1, "a", null],
      {},
      { _eq: { _eq: 1 } },
      "00000000-0000-0000-0000-00000000000g",
      "2026-13-45T99:99:99Z",
      "\u0000\ud800",
    ]);
  switch (int(12)) {
    case 0:
      return { kind: "random bytes", body: bytes(int(2_000)) };
    case 1:
      return { kind: "random bytes as text/plain", body: bytes(int(500)), contentType: "text/plain" };
    case 2: {
      const text = JSON.stringify({ query: `mutation { create_project(input: { name: "fuzz" }) { id } }` });
      return { kind: "truncated JSON", body: text.slice(0, int(text.length - 1)) };
    }
    case 3:
      return {
        kind: "wrong JSON shapes",
        body: JSON.stringify(
          pick([[], 1, "q", null, { query: confused() }, { query: "{ project { id } }", variables: [1] }]),
        ),
      };
    case 4: {
      const depth = 20 + int(300);
      return {
        kind: "deeply nested selection",
        body: JSON.stringify({
          query: `{ flow_run { ${"flow { flow_runs { ".repeat(depth)}id${" } }".repeat(depth)} } }`,
        }),
      };
    }
    case 5: {
      const depth = 50 + int(2_000);
      return {
        kind: "deeply nested variables",
        body: `{"query":"query($w: flow_run_bool_exp) { flow_run(where: $w) { id } }","variables":{"w":${'{"_not":'.repeat(depth)}{}${"}".repeat(depth)}}}`,
      };
    }
    case 6:
      return {
        kind: "many aliases",
        body: JSON.stringify({
          query: `{ ${Array.from({ length: 31 + int(500) }, (_, i) => `a${i}: flow_run { id }`).join(" ")} }`,
        }),
      };
    case 7:
      return {
        kind: "type-confused mutation variables",
        body: JSON.stringify({
          query: pick([
            "mutation($n: String!) { create_project(input: { name: $n }) { id } }",
            "mutation($id: uuid!, $p: jsonb) { create_flow_run(input: { flow_id: $id, parameters: $p }) { id } }",
            "mutation($i: register_flow_input!) { register_flow(input: $i) { id } }",
            "mutation($i: set_flow_run_states_input!) { set_flow_run_states(input: $i) { refused { message } } }",
          ]),
          variables: {
            n: pick([null, 123, true, [], {}, 1.5, ["a"]]), // never a string: that is a valid name
            id: pick([ids.flowId, confused()]),
            p: pick([[1], "x", 3]),
            i: confused(),
          },
        }),
      };
    case 8:
      return {
        kind: "invalid parameters for a real flow",
        body: JSON.stringify({
          query:
            "mutation($id: uuid!, $p: jsonb) { create_flow_run(input: { flow_id: $id, parameters: $p }) { id } }",
          variables: {
            id: ids.flowId,
            p: { name: confused() === null ? 5 : [confused()], times: pick([0, -3, "1", 1.5]) },
          },
        }),
      };
    case 9:
      return {
        kind: "garbage GraphQL",
        body: JSON.stringify({
          query: Array.from({ length: int(60) }, () =>
            pick(["{", "}", "(", ")", "mutation", "$", ":", "...", "@", '"', "#", "project", "!", "[", "]"]),
          ).join(pick([" ", ""])),
        }),
      };
    case 10:
      return {
        kind: "a body larger than declared limits",
        body: "x",
        length: 10 * 1024 * 1024 + 1 + int(1_000_000),
      };
    default:
      return {
        kind: "bad keys",
        body: JSON.stringify({ query: 'mutation { create_project(input: { name: "keyed" }) { id } }' }),
        key: pick([
          "Bearer",
          `Bearer ${"a".repeat(int(5_000))}`,
          "Basic abc",
          `Bearer rgt_${bytes(32).toString("base64url")}`,
          "Bearer \u00ff",
        ]),
      };
  }
}

/** Sends one attempt over a raw socket (a declared length may lie); resolves with status and body. */
function send(url: string, attempt: Attempt): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = typeof attempt.body === "string" ? Buffer.from(attempt.body) : attempt.body;
    const headers: Record<string, string | number> = {
      "content-type": attempt.contentType ?? "application/json",
      "content-length": attempt.length ?? body.length,
    };
    if (attempt.key !== undefined) headers.authorization = attempt.key;
    // A connection of its own: one whose declared length was a lie cannot carry the next request.
    const req = request(url, { method: "POST", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error("no answer in 10 s")));
    req.on("error", (error) => {
      // A declared length the body never reaches: the server answers (413) and may close before the rest.
      if (attempt.length !== undefined && /EPIPE|ECONNRESET|socket hang up/.test(error.message))
        resolve({ status: 413, body: '{"errors":[{"message":"closed"}]}' });
      else reject(error);
    });
    req.end(attempt.length !== undefined ? body.subarray(0, 1) : body);
  });
}

async function counts(api: Api): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of Object.keys(TABLES) as TableName[]) {
    const row = await api.database.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

let api: Api;
beforeEach(async () => {
  api = await startApi("sqlite", { services: false });
});
afterEach(async () => {
  await api.close(); // fails the test if the server reported any internal error
});

test(`${COUNT} malformed requests: each answered with an error, nothing written, the server still serving`, {
  timeout: BUDGET_MS + 30_000,
}, async () => {
  const ids = await seedFlow(api);
  const before = await counts(api);
  const random = generator(20261128);
  const kinds = new Map<string, number>();
  const started = Date.now();
  let sent = 0;
  for (; sent < COUNT && Date.now() - started < BUDGET_MS; sent++) {
    const attempt = makeAttempt(random, ids);
    kinds.set(attempt.kind, (kinds.get(attempt.kind) ?? 0) + 1);
    const { status, body } = await send(api.server.graphqlUrl, attempt).catch((error: Error) => {
      throw new Error(
        `${attempt.kind} #${sent}: ${error.message} (${String(attempt.key ?? attempt.body).slice(0, 200)})`,
      );
    });
    const context = `${attempt.kind} #${sent}: HTTP ${status} ${body.slice(0, 300)}`;
    expect(status, context).toBeLessThan(500);
    let parsed: { errors?: Array<{ message: string }> };
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new Error(`not JSON: ${context}`);
    }
    expect((parsed.errors?.length ?? 0) > 0, context).toBe(true);
    expect(parsed.errors![0]!.message, context).not.toMatch(/internal server error/);
  }
  expect(sent).toBeGreaterThanOrEqual(Math.min(COUNT, 500));
  expect(kinds.size).toBe(12);
  expect(await counts(api)).toEqual(before);
  expect((await fetch(`${api.server.url}/health`)).status).toBe(200);
  expect((await api.ok(`{ project { name } }`)).project).toEqual([{ name: "p" }]);
});
