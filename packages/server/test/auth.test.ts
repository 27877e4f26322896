import { request } from "node:http";
import { type Access, SCOPES, type Scope, scopeAllows } from "@regent/core";
import { BACKENDS } from "@regent/testkit";
import {
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
} from "graphql";
import { afterEach, beforeEach, describe, expect, onTestFinished, test } from "vitest";
import { accessOf, FIELD_ACCESS, RUN_TOKEN_FIELDS } from "../src/graphql/access.js";
import { schema } from "../src/graphql/schema.js";
import { type Api, seedFlow, startApi } from "./helpers.js";

// API keys and scopes: keys are checked on every request, scopes on every root field, from one table.

const WHO = `{ auth_info { scope key_name keys_required } }`;
const CREATE = `mutation($name: String!, $scope: api_key_scope!, $in: String) {
  create_api_key(input: { name: $name, scope: $scope, expires_in: $in }) { id key api_key { name scope prefix } } }`;

for (const backend of BACKENDS) {
  describe(`API keys on ${backend}`, () => {
    let api: Api;
    let now = Date.parse("2026-11-28T12:00:00Z");
    let admin: string;
    beforeEach(async () => {
      now = Date.parse("2026-11-28T12:00:00Z");
      api = await startApi(backend, { services: false, keysRequired: true, clock: () => new Date(now) });
      // The first key comes from the database itself, as `regent auth create-key --db` makes it.
      admin = (await api.server.store.apiKeys.create({ name: "boot", scope: "admin" })).key;
    });
    afterEach(async () => {
      await api.close();
    });

    test("a request without a key, with a malformed header or an unknown key is refused with 401", async () => {
      const none = await api.gql(WHO);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe("Bearer");
      expect(none.errors?.[0].extensions.code).toBe("UNAUTHENTICATED");
      expect(none.errors?.[0].message).toMatch(/requires an API key.*regent auth create-key/);

      const res = await fetch(api.server.graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Basic ${admin}` },
        body: JSON.stringify({ query: WHO }),
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).errors[0].message).toMatch(/not "Bearer <key>"/);

      const unknown = await api.gql(WHO, undefined, `rgt_${"x".repeat(43)}`);
      expect(unknown.status).toBe(401);
      expect(unknown.errors?.[0].message).toMatch(/not known to this server/);

      expect((await api.gql(WHO, undefined, admin)).data.auth_info).toEqual({
        scope: "admin",
        key_name: "boot",
        keys_required: true,
      });
    });

    test("an admin creates keys that are shown once, listed without secrets, and revoked", async () => {
      const made = (await api.gql(CREATE, { name: "ci", scope: "user" }, admin)).data.create_api_key;
      expect(made.key).toMatch(/^rgt_[A-Za-z0-9_-]{43}$/);
      expect(made.api_key).toEqual({ name: "ci", scope: "user", prefix: made.key.slice(0, 10) });
      expect((await api.gql(WHO, undefined, made.key)).data.auth_info.scope).toBe("user");

      const listed = await api.gql(
        `{ api_keys { id name scope prefix created_by last_used revoked } }`,
        {},
        admin,
      );
      const ci = listed.data.api_keys.find((k: any) => k.name === "ci");
      expect(ci).toMatchObject({ id: made.id, scope: "user", revoked: null });
      expect(ci.created_by).toBe(listed.data.api_keys.find((k: any) => k.name === "boot").id);
      expect(ci.last_used).toBe(new Date(now).toISOString());
      expect(JSON.stringify(listed)).not.toContain(made.key.slice(10));
      // Not readable through the generic reads either.
      expect((await api.gql(`{ api_key { id } }`, {}, admin)).errors?.[0].message).toMatch(/api_key/);

      const dup = await api.gql(CREATE, { name: "ci", scope: "runner" }, admin);
      expect(dup.errors?.[0].extensions.code).toBe("INVALID_USAGE");
      expect(dup.errors?.[0].message).toMatch(/exists already/);

      const revoked = await api.gql(
        `mutation { revoke_api_key(input: { id_or_name: "ci" }) { name revoked } }`,
        {},
        admin,
      );
      expect(revoked.data.revoke_api_key.revoked).toBe(new Date(now).toISOString());
      const after = await api.gql(WHO, undefined, made.key);
      expect(after.status).toBe(401);
      expect(after.errors?.[0].message).toMatch(/"ci" was revoked/);

      const missing = await api.gql(
        `mutation { revoke_api_key(input: { id_or_name: "nope" }) { id } }`,
        {},
        admin,
      );
      expect(missing.errors?.[0].extensions.code).toBe("API_KEY_NOT_FOUND");
    });

    test("a key stops working when it expires", async () => {
      const made = (await api.gql(CREATE, { name: "temp", scope: "runner", in: "1h" }, admin)).data
        .create_api_key;
      expect((await api.gql(WHO, undefined, made.key)).status).toBe(200);
      now += 3_600_000;
      const expired = await api.gql(WHO, undefined, made.key);
      expect(expired.status).toBe(401);
      expect(expired.errors?.[0].message).toMatch(/"temp" expired at 2026-11-28T13:00:00.000Z/);
      const past = await api.gql(
        `mutation { create_api_key(input: { name: "old", scope: user, expires_at: "2020-01-01T00:00:00Z" }) { id } }`,
        {},
        admin,
      );
      expect(past.errors?.[0].message).toMatch(/expiry must be in the future/);
    });

    test("bad input to create_api_key is refused, saying what a valid value is", async () => {
      const bad = async (input: string) =>
        (await api.gql(`mutation { create_api_key(input: ${input}) { id } }`, {}, admin)).errors?.[0];
      expect(await bad(`{ name: "has spaces", scope: user }`)).toMatchObject({
        extensions: { code: "INVALID_USAGE" },
        message: expect.stringMatching(/letters, digits and \. _ @ : -, not "has spaces"/),
      });
      expect(await bad(`{ name: "x", scope: user, expires_in: "soon" }`)).toMatchObject({
        extensions: { code: "INVALID_CONFIG" },
        message: expect.stringMatching(/expires_in/),
      });
      expect(
        (await bad(`{ name: "x", scope: user, expires_in: "1d", expires_at: "2030-01-01T00:00:00Z" }`))
          ?.message,
      ).toBe("give expires_at or expires_in, not both");
      expect((await bad(`{ name: "x", scope: root }`))?.message).toMatch(/api_key_scope/);
      expect((await api.gql(`{ api_keys { name } }`, {}, admin)).data.api_keys).toEqual([{ name: "boot" }]);
    });

    test("a runner key cannot create keys or manage flows; a user key cannot claim runs", async () => {
      const runner = (await api.gql(CREATE, { name: "agent", scope: "runner" }, admin)).data.create_api_key
        .key;
      const user = (await api.gql(CREATE, { name: "dev", scope: "user" }, admin)).data.create_api_key.key;
      const asRunner = await api.gql(CREATE, { name: "sneaky", scope: "admin" }, runner);
      expect(asRunner.status).toBe(403);
      expect(asRunner.errors?.[0]).toMatchObject({
        message: "create_api_key needs a key with scope admin; this request's key has scope runner",
        extensions: { code: "FORBIDDEN" },
      });
      const project = await api.gql(`mutation { create_project(input: { name: "p" }) { id } }`, {}, runner);
      expect(project.errors?.[0].extensions.code).toBe("FORBIDDEN");
      const claim = await api.gql(
        `mutation { claim_flow_runs(input: { agent_id: "00000000-0000-4000-8000-000000000000" }) { flow_runs { id } } }`,
        {},
        user,
      );
      expect(claim.errors?.[0].message).toMatch(/claim_flow_runs needs a key with scope admin or runner/);
      // Through a fragment as well.
      const sneaky = await api.gql(`query { ...K } fragment K on Query { api_keys { id } }`, {}, user);
      expect(sneaky.errors?.[0].extensions.code).toBe("FORBIDDEN");
      // Nothing was written by the refused requests.
      expect((await api.gql(`{ project { id } }`, {}, admin)).data.project).toEqual([]);
      expect(
        (await api.gql(`{ api_keys { name } }`, {}, admin)).data.api_keys.map((k: any) => k.name).sort(),
      ).toEqual(["agent", "boot", "dev"]);
    });
  });
}

describe("rate limit of expensive mutations", () => {
  let api: Api;
  let now = Date.parse("2026-11-28T12:00:00Z");
  beforeEach(async () => {
    api = await startApi("sqlite", { services: false, rateLimitPerMinute: 3, clock: () => new Date(now) });
  });
  afterEach(async () => {
    await api.close();
  });

  test("each key may call them so many times a minute; the answer says when to try again", async () => {
    const DELETE = `mutation { delete_project(input: { project_id: "00000000-0000-4000-8000-000000000000" }) { success } }`;
    for (let i = 0; i < 3; i++)
      expect((await api.gql(DELETE)).errors?.[0].extensions.code).toBe("PROJECT_NOT_FOUND");
    const limited = await api.gql(DELETE);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("20");
    expect(limited.errors?.[0]).toMatchObject({
      message:
        "delete_project is limited to 3 calls a minute per API key ([server] rate_limit); try again in 20 s",
      extensions: { code: "RATE_LIMITED" },
    });
    // Other mutations are not limited; another key has its own allowance.
    expect((await api.gql(`mutation { create_project(input: { name: "p" }) { id } }`)).status).toBe(200);
    const { key } = await api.server.store.apiKeys.create({ name: "other", scope: "user" });
    expect((await api.gql(DELETE, {}, key)).errors?.[0].extensions.code).toBe("PROJECT_NOT_FOUND");
    // The allowance refills evenly: one call every 20 s.
    now += 20_000;
    expect((await api.gql(DELETE)).errors?.[0].extensions.code).toBe("PROJECT_NOT_FOUND");
    expect((await api.gql(DELETE)).status).toBe(429);
  });
});

describe("the access table", () => {
  const roots = {
    query: schema.getQueryType()!,
    mutation: schema.getMutationType()!,
    subscription: schema.getSubscriptionType()!,
  };

  test("lists every mutation and subscription, and nothing that is not in the API", () => {
    for (const op of ["mutation", "subscription"] as const)
      expect(Object.keys(FIELD_ACCESS[op]).sort()).toEqual(Object.keys(roots[op].getFields()).sort());
    for (const field of Object.keys(FIELD_ACCESS.query))
      expect(roots.query.getFields()).toHaveProperty(field);
  });

  // Every root field, called with each scope's key: allowed ones are never FORBIDDEN (they may fail
  // otherwise, on made-up arguments), denied ones always are.
  describe("every field with every scope", () => {
    let api: Api;
    const keys = new Map<Scope, string>();
    beforeEach(async () => {
      api = await startApi("sqlite", { services: false, keysRequired: true });
      for (const scope of SCOPES)
        keys.set(scope, (await api.server.store.apiKeys.create({ name: scope, scope })).key);
    });
    afterEach(async () => {
      await api.close();
    });

    test("matches scopeAllows for the field's access", { timeout: 60_000 }, async () => {
      const seen: string[] = [];
      for (const op of ["query", "mutation", "subscription"] as const) {
        for (const field of Object.values(roots[op].getFields())) {
          const access: Access = accessOf(op, field.name);
          for (const scope of SCOPES) {
            const forbidden = await callForbidden(api, keys.get(scope)!, op, field);
            // A runner key reaches only its own agents' runs: with made-up arguments, these name nothing
            // of theirs (a parent run, a bundle), or span every run, and are refused (run-tokens.test.ts).
            const outOfReach = scope === "runner" && REFUSED_FOR_ARGUMENTS.has(field.name);
            expect(forbidden, `${op} ${field.name} with a ${scope} key`).toBe(
              outOfReach || !scopeAllows(scope, access),
            );
            if (forbidden) seen.push(`${scope}:${field.name}`);
          }
        }
      }
      expect(seen).toContain("runner:create_api_key");
      expect(seen).toContain("user:claim_flow_runs");
      expect(seen).not.toContain("admin:create_api_key");
    });

    test("a run's token may call RUN_TOKEN_FIELDS and nothing else", { timeout: 60_000 }, async () => {
      // The made-up arguments name this run, so the checks that narrow a token to its run let them by,
      // but for those that need more than its id: a child run needs its parent, a bundle its flow, and a
      // run restarts its children, not itself.
      // A token works only for a run that is there and not long ended: make one, and name it throughout.
      const { flowId } = await seedFlow({
        ...api,
        ok: async (q, v) => (await api.gql(q, v, keys.get("admin"))).data,
      });
      const created = await api.gql(
        `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
        { id: flowId },
        keys.get("admin"),
      );
      const before = SAMPLE_ID;
      SAMPLE_ID = created.data.create_flow_run.id;
      onTestFinished(() => {
        SAMPLE_ID = before;
      });
      const token = await api.server.store.runTokens.mint(SAMPLE_ID);
      for (const op of ["query", "mutation", "subscription"] as const) {
        for (const field of Object.values(roots[op].getFields())) {
          const open = RUN_TOKEN_FIELDS[op].has(field.name) && !REFUSED_FOR_ARGUMENTS.has(field.name);
          const forbidden = await callForbidden(api, token, op, field);
          expect(forbidden, `${op} ${field.name} with a run's token`).toBe(!open);
        }
      }
    });
  });
});

/** The uuid every made-up argument names (a real run's, for the run-token matrix). */
let SAMPLE_ID = "00000000-0000-4000-8000-000000000000";
/**
 * Fields a runner key or a run's token may call by scope, refused for made-up arguments that name nothing
 * of theirs, or (flow_run_counts) because they span every run.
 */
const REFUSED_FOR_ARGUMENTS = new Set([
  "create_flow_run",
  "flow_bundle",
  "restart_flow_run",
  "flow_run_counts",
]);

/** Made-up values of an argument's type, enough to pass validation. */
function sample(type: GraphQLInputType): string {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return `[${sample(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isScalarType(type)) {
    switch (type.name) {
      case "Int":
      case "Float":
        return "1";
      case "Boolean":
        return "false";
      case "uuid":
        return `"${SAMPLE_ID}"`;
      case "timestamptz":
        return '"2026-11-28T12:00:00Z"';
      case "jsonb":
        return "{}";
      default:
        return '"x"';
    }
  }
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return `{ ${fields.map((f) => `${f.name}: ${sample(f.type)}`).join(", ")} }`;
  }
  throw new Error(`no sample for ${String(type)}`);
}

function operationFor(op: string, field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((a) => isNonNullType(a.type));
  const argText = args.length ? `(${args.map((a) => `${a.name}: ${sample(a.type)}`).join(", ")})` : "";
  const selection = isLeafType(getNamedType(field.type)) ? "" : " { __typename }";
  return `${op} { ${field.name}${argText}${selection} }`;
}

/** Whether calling the field with `key` is refused as FORBIDDEN. */
async function callForbidden(api: Api, key: string, op: string, field: GraphQLField<unknown, unknown>) {
  const query = operationFor(op, field);
  if (op !== "subscription") {
    const r = await api.gql(query, {}, key);
    const codes = (r.errors ?? []).map((e: any) => e.extensions?.code);
    if (codes.includes("GRAPHQL_VALIDATION_FAILED")) throw new Error(`${query}: ${JSON.stringify(r.errors)}`);
    return codes.includes("FORBIDDEN");
  }
  // A subscription answers with a stream: read its first event (or none within a moment) and close it.
  const abort = new AbortController();
  const res = await fetch(api.server.graphqlUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "text/event-stream",
      authorization: `Bearer ${key}`,
    },
    body: JSON.stringify({ query }),
    signal: abort.signal,
  });
  const reader = res.body!.getReader();
  const first = await Promise.race([
    reader.read().then((c) => new TextDecoder().decode(c.value)),
    new Promise<string>((r) => setTimeout(() => r(""), 300)),
  ]);
  abort.abort();
  await reader.cancel().catch(() => {});
  return first.includes("FORBIDDEN");
}

describe("a server without keys (loopback)", () => {
  let api: Api;
  beforeEach(async () => {
    api = await startApi("sqlite", { services: false });
  });
  afterEach(async () => {
    await api.close();
  });

  test("takes requests without a key as admin, but still checks a key that is sent", async () => {
    expect((await api.gql(WHO)).data.auth_info).toEqual({
      scope: "admin",
      key_name: null,
      keys_required: false,
    });
    const wrong = await api.gql(WHO, undefined, "rgt_nonsense");
    expect(wrong.status).toBe(401);
    const { key } = await api.server.store.apiKeys.create({ name: "r", scope: "runner" });
    expect((await api.gql(CREATE, { name: "x", scope: "admin" }, key)).errors?.[0].extensions.code).toBe(
      "FORBIDDEN",
    );
  });

  test("answers only requests addressed to a loopback name (DNS rebinding)", async () => {
    const post = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const body = JSON.stringify({ query: WHO });
        const req = request(
          api.server.graphqlUrl,
          {
            method: "POST",
            headers: { host, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            let text = "";
            res.on("data", (c) => {
              text += c;
            });
            res.on("end", () => resolve({ status: res.statusCode!, body: text }));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    const evil = await post("attacker.example:4200");
    expect(evil.status).toBe(403);
    expect(evil.body).toMatch(/DNS rebinding/);
    expect((await post(`localhost:${api.server.port}`)).status).toBe(200);
    expect((await post(`127.0.0.1:${api.server.port}`)).status).toBe(200);
  });

  test("refuses GraphQL sent as a form, which any web page could post cross-site", async () => {
    for (const [type, body] of [
      [
        "application/x-www-form-urlencoded",
        `query=${encodeURIComponent('mutation { create_project(input: { name: "csrf" }) { id } }')}`,
      ],
      [
        "text/plain",
        JSON.stringify({ query: 'mutation { create_project(input: { name: "csrf" }) { id } }' }),
      ],
    ] as const) {
      const res = await fetch(api.server.graphqlUrl, {
        method: "POST",
        headers: { "content-type": type },
        body,
      });
      expect(res.status).toBe(415);
      expect(await res.text()).toMatch(/send GraphQL as JSON/);
    }
    expect((await api.gql(`{ project { id } }`)).data.project).toEqual([]);
  });

  test("sends no CORS headers unless origins are configured", async () => {
    const preflight = () =>
      fetch(api.server.graphqlUrl, {
        method: "OPTIONS",
        headers: {
          origin: "https://evil.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
    expect((await preflight()).headers.get("access-control-allow-origin")).toBeNull();
    await api.close();
    api = await startApi("sqlite", { services: false, corsOrigins: ["https://ui.example"] });
    const res = await fetch(api.server.graphqlUrl, {
      method: "OPTIONS",
      headers: { origin: "https://ui.example", "access-control-request-method": "POST" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBe("https://ui.example");
    expect((await preflight()).headers.get("access-control-allow-origin")).not.toBe("https://evil.example");
  });
});
