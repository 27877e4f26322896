import { type Backend, freshDatabase, type TestDatabase } from "@regent/testkit";
import { type RunningServer, type ServerOptions, startServer } from "../src/index.js";

export interface Api {
  readonly server: RunningServer;
  readonly database: TestDatabase;
  /** POSTs a GraphQL request (with `key` as its bearer token); returns the parsed body and the HTTP status. */
  gql(
    query: string,
    variables?: unknown,
    key?: string,
  ): Promise<{ status: number; headers: Headers; data?: any; errors?: any[] }>;
  /** Like `gql`, but fails the test on any error and returns `data`. */
  ok(query: string, variables?: unknown): Promise<any>;
  close(): Promise<void>;
}

/** A real server on a fresh database of the backend, on a free loopback port. */
export async function startApi(
  backend: Backend,
  options: Pick<
    ServerOptions,
    | "maxBodyBytes"
    | "maxCost"
    | "clock"
    | "services"
    | "log"
    | "uiDir"
    | "keysRequired"
    | "corsOrigins"
    | "rateLimitPerMinute"
    | "secretsKey"
  > = {},
): Promise<Api> {
  const database = await freshDatabase(backend);
  const internal: unknown[] = [];
  const server = await startServer({
    database,
    port: 0,
    onInternalError: (e) => internal.push(e),
    ...options,
  });
  const gql = async (query: string, variables?: unknown, key?: string) => {
    const res = await fetch(server.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return {
      status: res.status,
      headers: res.headers,
      ...((await res.json()) as { data?: any; errors?: any[] }),
    };
  };
  return {
    server,
    database,
    gql,
    async ok(query, variables) {
      const r = await gql(query, variables);
      if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
      return r.data;
    },
    async close() {
      await server.close();
      await database.dispose();
      if (internal.length > 0)
        throw new Error(`internal server errors: ${internal.map((e) => (e as Error).stack).join("\n")}`);
    },
  };
}

export const PARAMS_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    name: { type: "string", default: "world" },
    times: { type: "integer", minimum: 1, default: 1 },
  },
};

/** Registers project `p` and flow `hello` (version 1); returns their ids. */
export async function seedFlow(api: Api, overrides: Record<string, unknown> = {}) {
  const { create_project } = await api.ok(`mutation { create_project(input: { name: "p" }) { id } }`);
  const { register_flow } = await api.ok(
    `mutation($input: register_flow_input!) { register_flow(input: $input) { id version version_group_id created } }`,
    {
      input: {
        project_id: create_project.id,
        name: "hello",
        parameters_schema: PARAMS_SCHEMA,
        labels: ["prod"],
        content_hash: "h1",
        ...overrides,
      },
    },
  );
  return {
    projectId: create_project.id as string,
    flowId: register_flow.id as string,
    versionGroupId: register_flow.version_group_id as string,
  };
}

/**
 * A GraphQL subscription over SSE (with `key` as its bearer token); `next(n)` waits for the next n events
 * (bounded by a timeout). An event is `{ data }`, or `{ errors }` when the subscription was refused.
 */
export async function subscribe(url: string, query: string, variables: unknown, key?: string) {
  const controller = new AbortController();
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "text/event-stream",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  if (!/text\/event-stream/.test(res.headers.get("content-type") ?? ""))
    throw new Error(
      `not an event stream (${res.status} ${res.headers.get("content-type")}): ${await res.text()}`,
    );
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const events: any[] = [];
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let i = buffer.indexOf("\n\n");
        while (i >= 0) {
          const chunk = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          for (const line of chunk.split("\n"))
            if (line.startsWith("data:") && line.length > 6) events.push(JSON.parse(line.slice(5)));
          i = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    async next(n: number, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (events.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      return events.splice(0, n);
    },
    async close() {
      controller.abort();
      await pump;
    },
  };
}
