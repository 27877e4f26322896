import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { useEngine } from "@envelop/core";
import { costLimitPlugin } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { isLoopbackHost } from "@regent/core";
import DataLoader from "dataloader";
import { execute } from "graphql";
import { createYoga, type Plugin } from "graphql-yoga";
import type { RegentDatabase } from "../db/database.js";
import type { TableName } from "../db/tables.js";
import { createServerEvents } from "../events.js";
import { accessPlugin } from "../graphql/access.js";
import type { GraphQLContext } from "../graphql/builder.js";
import { schema } from "../graphql/schema.js";
import { lazarusSettings, type Services, type ServicesOptions, startServices } from "../services/services.js";
import type { Principal } from "../store/api-keys.js";
import { rowsByColumn } from "../store/reads.js";
import { type Clock, Store } from "../store/store.js";
import { authenticate, hostAllowed } from "./auth.js";
import { toGraphQLError } from "./errors.js";
import { createMetrics } from "./metrics.js";
import { serveUi, UI_SECURITY_HEADERS } from "./static-ui.js";

export interface ServerOptions {
  readonly database: RegentDatabase;
  readonly host?: string;
  /** 4200 by default; 0 picks a free port (tests). */
  readonly port?: number;
  readonly clock?: Clock;
  /** Largest request body accepted, in bytes (default 10 MiB). */
  readonly maxBodyBytes?: number;
  /** Deepest query accepted (default 12 levels). */
  readonly maxDepth?: number;
  /** Largest estimated query cost accepted (graphql-armor's cost model; default 5,000). */
  readonly maxCost?: number;
  readonly version?: string;
  /** Where internal errors are reported (default: stderr). */
  readonly onInternalError?: (error: unknown) => void;
  /** The background services (scheduler, late runs); false for none (tools, some tests). */
  readonly services?: ServicesOptions | false;
  /** Where the services report (default: stderr). */
  readonly log?: (line: string) => void;
  /** The built web UI (`packages/ui/dist`), served at `/`; without it `/` says where the API is. */
  readonly uiDir?: string | undefined;
  /**
   * Whether every request needs an API key. Default: unless the server listens on loopback only (the
   * CLI decides with `[server] auth` and `--insecure-no-auth`, see core's `keysRequired`).
   */
  readonly keysRequired?: boolean;
  /** Origins whose pages may call the API from a browser (CORS); none by default. */
  readonly corsOrigins?: readonly string[];
  /** Expensive mutations (registering, backfills, keys) per API key per minute (default 300; 0: none). */
  readonly rateLimitPerMinute?: number;
  /** Encrypts flows' secrets: 32 bytes (see parseSecretsKey); without it, secrets cannot be set or read. */
  readonly secretsKey?: Buffer | undefined;
}

export interface RunningServer {
  readonly url: string;
  readonly graphqlUrl: string;
  readonly port: number;
  readonly store: Store;
  /** Undefined when started with `services: false`. */
  readonly services: Services | undefined;
  close(): Promise<void>;
}

/** Some scripts send `variables` as a JSON-encoded string; accept it as the object it encodes. */
const stringVariables: Plugin = {
  onParams({ params, setParams }) {
    const variables: unknown = params.variables;
    if (typeof variables === "string") {
      try {
        setParams({ ...params, variables: variables.trim() ? JSON.parse(variables) : undefined });
      } catch {
        // Left as it is: yoga answers 400 "variables must be an object".
      }
    }
  },
};

/** A JSON error answer in the shape GraphQL clients read (`errors[].extensions.code`). */
function refuse(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/** Starts the API: GraphQL at /graphql, /health and /metrics beside it. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const events = createServerEvents();
  const store = new Store(options.database, options.clock, events, {
    canEmail: options.services !== false && Boolean(options.services?.smtp),
    lazarus: lazarusSettings(options.services),
    secretsKey: options.secretsKey,
  });
  const log = options.log ?? ((line: string) => process.stderr.write(`regent server: ${line}\n`));
  const services =
    options.services === false
      ? undefined
      : startServices(options.database, store, events, {
          ...options.services,
          clock: options.clock,
          log,
          version: options.version,
        });
  const metrics = createMetrics(() => services?.lastSchedulerLoop());
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const onInternal =
    options.onInternalError ??
    ((error: unknown) =>
      process.stderr.write(`regent server: internal error: ${(error as Error)?.stack ?? String(error)}\n`));

  const host = options.host ?? "127.0.0.1";
  const loopbackOnly = isLoopbackHost(host);
  const keysRequired = options.keysRequired ?? !loopbackOnly;
  // A keyless loopback server answers loopback names only (DNS rebinding); decided once, not per request.
  const guardHost = !keysRequired && loopbackOnly;
  // Set per request once its key is checked, before yoga builds the context.
  const principals = new WeakMap<IncomingMessage, Principal>();

  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }, GraphQLContext>({
    schema,
    // Closed unless origins are configured: on a server without keys, any page the user opens could
    // otherwise call it.
    cors: options.corsOrigins?.length
      ? {
          origin: [...options.corsOrigins],
          methods: ["GET", "POST"],
          allowedHeaders: ["content-type", "authorization", "accept"],
        }
      : false,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    logging: false,
    maskedErrors: { maskError: (error) => toGraphQLError(error, onInternal) },
    // Depth, alias count and a cost estimate bound what one query may ask of the database.
    plugins: [
      // graphql-js's own executor for queries and mutations: yoga's default (@graphql-tools/executor, for
      // @defer/@stream, which this schema does not use) copies every variable value before coercing it,
      // a tenth of the server's time on a run's batched writes. Subscriptions keep yoga's.
      useEngine({ execute }),
      stringVariables,
      accessPlugin({
        perMinute: options.rateLimitPerMinute ?? 300,
        now: () => store.currentTime().getTime(),
      }),
      maxDepthPlugin({ n: options.maxDepth ?? 12 }),
      maxAliasesPlugin({ n: 30 }),
      costLimitPlugin({ maxCost: options.maxCost ?? 5_000 }),
    ],
    context: ({ req }): GraphQLContext => {
      const loaders = new Map<string, DataLoader<string, Record<string, unknown> | undefined>>();
      const principal = principals.get(req);
      // Every /graphql request is authenticated before yoga sees it; a missing one is a bug, not a guest.
      if (!principal) throw new Error("request reached GraphQL without being authenticated");
      return {
        store,
        events,
        principal,
        keysRequired,
        loader(table, column) {
          const key = `${table}.${column}`;
          let loader = loaders.get(key);
          if (!loader) {
            loader = new DataLoader(async (values) => {
              const rows = await rowsByColumn(options.database, table as TableName, column, values);
              const by = new Map(
                rows.map((r) => [
                  (r as Record<string, unknown>)[column] as string,
                  r as Record<string, unknown>,
                ]),
              );
              return values.map((v) => by.get(v));
            });
            loaders.set(key, loader);
          }
          return loader;
        },
      };
    },
  });

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    try {
      if (path === "/health") {
        let database = "ok";
        try {
          await options.database.db.selectFrom("project").select("id").limit(1).execute();
        } catch {
          database = "unavailable";
        }
        const status = database === "ok" ? 200 : 503;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            status: database === "ok" ? "ok" : "degraded",
            database,
            version: options.version ?? null,
          }),
        );
        metrics.requests.inc({ route: "/health", status });
        return;
      }
      if (path === "/metrics") {
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
        metrics.requests.inc({ route: "/metrics", status: 200 });
        return;
      }
      if (path === "/graphql") {
        // The limit is checked on the declared length; a body without one (chunked) is refused, since
        // it could not be limited before reading it.
        const length = Number(req.headers["content-length"] ?? 0);
        const refused = (status: number, code: string, message: string, headers?: Record<string, string>) => {
          refuse(res, status, code, message, headers);
          req.resume();
          metrics.requests.inc({ route: "/graphql", status });
        };
        if (req.method === "POST" && req.headers["content-length"] === undefined)
          return refused(411, "LENGTH_REQUIRED", "send a Content-Length header");
        if (length > maxBody) return refused(413, "PAYLOAD_TOO_LARGE", `request body over ${maxBody} bytes`);
        // JSON only: a form post (urlencoded or multipart, which yoga would read too) is what any web page
        // can send cross-site without asking (CSRF).
        if (
          req.method === "POST" &&
          !/^application\/(json|graphql-response\+json)\b/i.test(req.headers["content-type"] ?? "")
        )
          return refused(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            `send GraphQL as JSON: Content-Type: application/json, not "${req.headers["content-type"] ?? "(none)"}"`,
          );
        if (guardHost && !hostAllowed(req))
          return refused(
            403,
            "FORBIDDEN",
            `this server has no API keys and answers only requests addressed to 127.0.0.1, localhost or [::1], not "${req.headers.host}" (a guard against DNS rebinding); to serve other names, require keys`,
          );
        try {
          principals.set(req, await authenticate(req, store.apiKeys, store.runTokens, keysRequired));
        } catch (error) {
          const e = toGraphQLError(error, onInternal);
          const code = String(e.extensions.code);
          const status = code === "UNAUTHENTICATED" ? 401 : code === "DATABASE_UNAVAILABLE" ? 503 : 500;
          return refused(status, code, e.message, status === 401 ? { "www-authenticate": "Bearer" } : {});
        }
        const started = performance.now();
        res.on("finish", () => {
          metrics.requests.inc({ route: "/graphql", status: res.statusCode });
          metrics.operations.observe(
            { operation: "any", outcome: res.statusCode < 400 ? "ok" : "error" },
            (performance.now() - started) / 1000,
          );
        });
        await yoga.handle(req, res);
        return;
      }
      if (options.uiDir && (await serveUi(options.uiDir, path ?? "/", req, res))) {
        metrics.requests.inc({ route: "ui", status: 200 });
        return;
      }
      if (path === "/") {
        // No UI to serve (a server started without one): `/` says where things are instead of a 404.
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...UI_SECURITY_HEADERS });
        res.end(
          `<!doctype html><meta charset="utf-8"><title>Regent</title><h1>Regent server ${options.version ?? ""}</h1>` +
            `<p>The GraphQL API is at <a href="/graphql">/graphql</a> (POST); health at <a href="/health">/health</a>, ` +
            `metrics at <a href="/metrics">/metrics</a>. The web UI is not built: run <code>npm run build</code>.</p>`,
        );
        metrics.requests.inc({ route: "/", status: 200 });
        return;
      }
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found: the API is at /graphql\n");
      metrics.requests.inc({ route: "other", status: 404 });
    } catch (error) {
      onInternal(error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal server error\n");
    }
  };

  const server: Server = createServer((req, res) => void handler(req, res));
  // A client may not hold a connection by sending slowly (slowloris): headers within 30 s, the whole
  // request within 2 min (live subscriptions are long answers, not long requests, and are not cut).
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 4200, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  const url = `http://${shown}:${port}`;
  return {
    url,
    graphqlUrl: `${url}/graphql`,
    port,
    store,
    services,
    close: async () => {
      await services?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
