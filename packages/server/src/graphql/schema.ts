import { lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "./builder.js";
import "./scalars.js";
import "./reads.js";
import "./dashboard.js";
import "./mutations.js";
import "./api-keys.js";
import "./secrets.js";
import "./subscriptions.js";
import "./task-queue.js";

builder.queryType({});

/** The API's schema, built once from the code-first definitions. */
export const schema = builder.toSchema();

/** The SDL committed as `packages/server/schema.graphql` (sorted, so diffs stay readable). */
export const printSdl = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
