import { ERROR_CODES, type ErrorCode, RegentError } from "@regent/core";
import type { TadaDocumentNode } from "gql.tada";
import { type DocumentNode, print } from "graphql";

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:4200` (the `/graphql` path is added when missing). */
  readonly apiUrl: string;
  /** Sent as `Authorization: Bearer <key>`; a function is asked before each request (a key that can change). */
  readonly apiKey?: string | (() => string | undefined) | undefined;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
}

export interface ApiErrorEntry {
  readonly message: string;
  readonly code: string;
  readonly path?: readonly (string | number)[];
  readonly details?: Record<string, unknown>;
}

/** An error the API answered with; `code` is the server's `extensions.code` when Regent knows it. */
export class ApiError extends RegentError {
  readonly errors: readonly ApiErrorEntry[];
  readonly apiCode: string;
  constructor(errors: readonly ApiErrorEntry[]) {
    const first = errors[0] ?? { message: "unknown API error", code: "API_ERROR" };
    const code = (first.code in ERROR_CODES ? first.code : "API_ERROR") as ErrorCode;
    super(
      code,
      errors.map((e) => e.message).join("; "),
      first.details ? { details: first.details } : undefined,
    );
    this.errors = errors;
    this.apiCode = first.code;
  }
}

const endpoint = (url: string) =>
  url.replace(/\/+$/, "").endsWith("/graphql")
    ? url.replace(/\/+$/, "")
    : `${url.replace(/\/+$/, "")}/graphql`;

interface GraphQLErrorJson {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown>;
}

/** The errors of a GraphQL answer as one ApiError, keeping each error's stable code. */
const apiError = (errors: readonly GraphQLErrorJson[]) =>
  new ApiError(
    errors.map((e) => ({
      message: e.message,
      code: typeof e.extensions?.code === "string" ? e.extensions.code : "API_ERROR",
      path: e.path,
      details: e.extensions?.details as Record<string, unknown> | undefined,
    })),
  );

/** The typed GraphQL client of the Regent API, used by the CLI, agents, the SDK's reporter and the UI. */
export class RegentClient {
  readonly url: string;
  constructor(private readonly options: ClientOptions) {
    this.url = endpoint(options.apiUrl);
  }

  /** POSTs a GraphQL request; a request that cannot reach the server is SERVER_UNREACHABLE. */
  private async post(
    document: DocumentNode,
    variables: unknown,
    accept: string,
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json", accept };
    const key = typeof this.options.apiKey === "function" ? this.options.apiKey() : this.options.apiKey;
    if (key) headers.authorization = `Bearer ${key}`;
    try {
      return await fetch(this.url, {
        method: "POST",
        headers,
        body: JSON.stringify({ query: print(document), variables }),
        signal,
      });
    } catch (error) {
      const cause =
        (error as Error).cause instanceof Error
          ? ((error as Error).cause as Error).message
          : (error as Error).message;
      throw new RegentError(
        "SERVER_UNREACHABLE",
        `cannot reach the Regent server at ${this.url}: ${cause}; is it running (regent server start)?`,
        { cause: error },
      );
    }
  }

  async request<Result, Variables>(
    document: TadaDocumentNode<Result, Variables>,
    variables?: Variables,
  ): Promise<Result> {
    const response = await this.post(
      document,
      variables ?? {},
      "application/json",
      AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
    );
    let body: { data?: Result; errors?: GraphQLErrorJson[] };
    try {
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new RegentError(
        "API_ERROR",
        `the server at ${this.url} answered HTTP ${response.status} without JSON`,
        { cause: error },
      );
    }
    if (body.errors?.length) throw apiError(body.errors);
    if (!response.ok || body.data === undefined) {
      throw new RegentError("API_ERROR", `the server at ${this.url} answered HTTP ${response.status}`);
    }
    return body.data;
  }

  /**
   * A subscription over Server-Sent Events: yields each result until `signal` aborts or the server ends
   * the stream. Errors the server sends in the stream are thrown as ApiError. `onOpen` is called once the
   * server has accepted the subscription (its response arrived), before any result: events from then on
   * are delivered, so a caller can catch up on what happened before (agents claim once at that point).
   */
  async *subscribe<Result, Variables>(
    document: TadaDocumentNode<Result, Variables>,
    variables: Variables,
    options: { signal?: AbortSignal; onOpen?: () => void } = {},
  ): AsyncGenerator<Result> {
    let response: Response;
    try {
      response = await this.post(document, variables, "text/event-stream", options.signal);
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    }
    if (!response.ok || !response.body) {
      // A refusal before the stream (no key, a bad key, a scope that may not) comes as JSON errors.
      const body = (await response.json().catch(() => undefined)) as
        | { errors?: GraphQLErrorJson[] }
        | undefined;
      if (body?.errors?.length) throw apiError(body.errors);
      throw new RegentError("API_ERROR", `subscribing at ${this.url} answered HTTP ${response.status}`);
    }
    options.onOpen?.();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (options.signal?.aborted) return;
          throw new RegentError(
            "SERVER_UNREACHABLE",
            `the subscription to ${this.url} was cut: ${(error as Error).message}`,
            { cause: error },
          );
        }
        if (chunk.done) return;
        buffer += chunk.value;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (/^event: complete/m.test(event)) return;
          const data = event
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart())
            .join("\n");
          if (!data) continue;
          const body = JSON.parse(data) as {
            data?: Result;
            errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
          };
          if (body.errors?.length) {
            throw new ApiError(
              body.errors.map((e) => ({
                message: e.message,
                code: typeof e.extensions?.code === "string" ? e.extensions.code : "API_ERROR",
              })),
            );
          }
          if (body.data !== undefined) yield body.data;
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
}
