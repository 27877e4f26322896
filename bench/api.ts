// GraphQL over fetch, for the benchmarks that talk to a server child.
import type { CliChild } from "./children.js";

const REQUEST_TIMEOUT_MS = 30_000;

export interface GraphQLResponse<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export class Api {
  constructor(
    readonly url: string,
    /** The server child, whose state and output go into errors. */
    private readonly server: Pick<CliChild, "status" | "output">,
  ) {}

  /**
   * POSTs one operation. A read whose connection fails is sent once more: a kept-alive socket may have been
   * closed by the server while this process was busy (the SQLite seeding blocks its event loop for seconds).
   * Mutations are never resent.
   */
  async request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const init = () => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    let res: Response;
    try {
      try {
        res = await fetch(this.url, init());
      } catch (error) {
        if (query.trimStart().startsWith("mutation")) throw error;
        res = await fetch(this.url, init());
      }
    } catch (error) {
      const cause = (error as { cause?: { message?: string; code?: string } }).cause;
      throw new Error(
        `request to ${this.url} failed: ${(error as Error).message}` +
          `${cause ? ` (${cause.code ?? ""} ${cause.message ?? ""})` : ""}; server ${this.server.status()}` +
          `\n${this.server.output()}`,
      );
    }
    const text = await res.text();
    let body: GraphQLResponse<T>;
    try {
      body = JSON.parse(text) as GraphQLResponse<T>;
    } catch {
      throw new Error(`HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`);
    }
    if (body.errors?.length) {
      const e = body.errors[0]!;
      throw new Error(`GraphQL error ${e.extensions?.code ?? ""}: ${e.message}\n${this.server.output()}`);
    }
    if (!body.data) throw new Error(`HTTP ${res.status} without data: ${text.slice(0, 300)}`);
    return body.data;
  }
}
