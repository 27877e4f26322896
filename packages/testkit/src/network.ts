import { createServer } from "node:net";

/** A TCP port nobody listens on at the moment, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// biome-ignore lint/suspicious/noExplicitAny: test callers read arbitrary response shapes.
type AnyData = any;

/**
 * POSTs a GraphQL request to a Regent server (`apiUrl` without `/graphql`) as any script would, and
 * returns `data`; GraphQL errors are thrown with their JSON.
 */
export async function graphqlData(
  apiUrl: string,
  query: string,
  variables?: unknown,
  options: { apiKey?: string } = {},
): Promise<AnyData> {
  const res = await fetch(`${apiUrl}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: unknown; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
