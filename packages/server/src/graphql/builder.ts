import SchemaBuilder from "@pothos/core";
import type DataLoader from "dataloader";
import type { ServerEvents } from "../events.js";
import type { Principal } from "../store/api-keys.js";
import type { Store } from "../store/store.js";

export interface GraphQLContext {
  readonly store: Store;
  readonly events: ServerEvents;
  /** Who the request comes from (its API key, or anonymous admin on a server that does not ask for keys). */
  readonly principal: Principal;
  /** Whether the server refuses requests without a key. */
  readonly keysRequired: boolean;
  /** Batches lookups of one table by one column within a request (relations never go N+1). */
  loader(table: string, column: string): DataLoader<string, Record<string, unknown> | undefined>;
}

/** Prefect 1 scalar names, so scripts' declared variable types (`$id: uuid!`) keep working. */
export type Scalars = {
  uuid: { Input: string; Output: string };
  jsonb: { Input: unknown; Output: unknown };
  timestamptz: { Input: string; Output: string };
};

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: Scalars;
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
});
