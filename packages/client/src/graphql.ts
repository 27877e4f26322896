import { initGraphQLTada } from "gql.tada";
import type { introspection } from "./graphql-env.js";

/**
 * `graphql(...)` documents typed from the server's committed `schema.graphql` (through the generated
 * `graphql-env.d.ts`; `npm run generate -w @regent/client` after the schema changes).
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { uuid: string; jsonb: unknown; timestamptz: string };
}>();

export type { FragmentOf, ResultOf, TadaDocumentNode, VariablesOf } from "gql.tada";
