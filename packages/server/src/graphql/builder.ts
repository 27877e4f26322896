import SchemaBuilder from "@pothos/core";
import type DataLoader from "dataloader";
import type { ServerEvents } from "../events.js";
import type { Store } from "../store/store.js";

export interface GraphQLContext {
  readonly store: Store;
  readonly events: ServerEvents;
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
