import { ERROR_CODES, RegentError } from "@regent/core";
import { GraphQLError } from "graphql";

// "… is not queryable": pg's answer to a query on a client whose connection died. A transaction cut by
// the database going away ends with one, since Kysely's ROLLBACK on the dead connection fails with it
// and that error replaces the original one.
const DB_DOWN =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection terminated|terminating connection|the database system is (starting up|shutting down)|timeout exceeded when trying to connect|is not queryable|SQLITE_(BUSY|LOCKED|IOERR)/i;

/**
 * What a caller sees of an error raised while resolving: RegentErrors keep their message and stable code
 * (`extensions.code`, plus their details); a lost database becomes DATABASE_UNAVAILABLE; anything else
 * is masked as an internal error (logged by the server, never shown: it may hold internals).
 */
export function toGraphQLError(error: unknown, onInternal: (error: unknown) => void): GraphQLError {
  // Duck-typed: graphql-yoga may load another copy of graphql-js, and instanceof fails across copies.
  const isGraphQLError = (e: unknown): e is GraphQLError => (e as Error | null)?.name === "GraphQLError";
  const original = isGraphQLError(error) && error.originalError ? error.originalError : error;
  const path = isGraphQLError(error) ? error.path : undefined;
  if (isGraphQLError(original)) return original;
  if (original instanceof RegentError) {
    // A key refused by a resolver (a run's token reaching past its run) answers 403, as the access check does.
    const http = original.code === "FORBIDDEN" ? { http: { status: 403 } } : {};
    return new GraphQLError(original.message, {
      path,
      extensions: {
        code: original.code,
        ...(original.details ? { details: original.details } : {}),
        ...http,
      },
    });
  }
  const message = original instanceof Error ? original.message : String(original);
  if (DB_DOWN.test(message) || DB_DOWN.test(String((original as { code?: unknown })?.code ?? ""))) {
    return new GraphQLError(`the database is unavailable (${ERROR_CODES.DATABASE_UNAVAILABLE.summary})`, {
      path,
      extensions: { code: "DATABASE_UNAVAILABLE" },
    });
  }
  onInternal(original);
  return new GraphQLError("internal server error", { path, extensions: { code: "INTERNAL_SERVER_ERROR" } });
}
