import { ERROR_CODES, type ErrorCode, RegentError } from "@regent/core";
import type { TadaDocumentNode } from "gql.tada";
import { print } from "graphql";

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:4200` (the `/graphql` path is added when missing). */
  readonly apiUrl: string;
  readonly apiKey?: string | undefined;
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

/** The typed GraphQL client of the Regent API, used by the CLI, agents, the SDK's reporter and the UI. */
export class RegentClient {
  readonly url: string;
  constructor(private readonly options: ClientOptions) {
    this.url = endpoint(options.apiUrl);
  }

  async request<Result, Variables>(
    document: TadaDocumentNode<Result, Variables>,
    variables?: Variables,
  ): Promise<Result> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers,
        body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new RegentError(
        "SERVER_UNREACHABLE",
        `cannot reach the Regent server at ${this.url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}; is it running (regent server start)?`,
        { cause: error },
      );
    }
    let body: {
      data?: Result;
      errors?: Array<{ message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }>;
    };
    try {
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new RegentError(
        "API_ERROR",
        `the server at ${this.url} answered HTTP ${response.status} without JSON`,
        { cause: error },
      );
    }
    if (body.errors?.length) {
      throw new ApiError(
        body.errors.map((e) => ({
          message: e.message,
          code: typeof e.extensions?.code === "string" ? e.extensions.code : "API_ERROR",
          path: e.path,
          details: e.extensions?.details as Record<string, unknown> | undefined,
        })),
      );
    }
    if (!response.ok || body.data === undefined) {
      throw new RegentError("API_ERROR", `the server at ${this.url} answered HTTP ${response.status}`);
    }
    return body.data;
  }
}
