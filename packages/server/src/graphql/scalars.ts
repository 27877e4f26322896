import { GraphQLError, Kind, type ValueNode } from "graphql";
import { toIsoTimestamp } from "../db/codec.js";
import { builder } from "./builder.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const uuidValue = (value: unknown): string => {
  if (typeof value === "string" && UUID.test(value)) return value.toLowerCase();
  throw new GraphQLError(`not a uuid: ${JSON.stringify(value)}`, { extensions: { code: "BAD_USER_INPUT" } });
};

builder.scalarType("uuid", {
  description: "A UUID, as text",
  serialize: (v) => String(v),
  parseValue: uuidValue,
  parseLiteral: (ast) => uuidValue(ast.kind === Kind.STRING ? ast.value : undefined),
});

const timestampValue = (value: unknown): string => {
  if (typeof value === "string" || typeof value === "number") {
    try {
      return toIsoTimestamp(value);
    } catch {}
  }
  throw new GraphQLError(`not a timestamp (ISO 8601 expected): ${JSON.stringify(value)}`, {
    extensions: { code: "BAD_USER_INPUT" },
  });
};

builder.scalarType("timestamptz", {
  description: "A point in time, ISO 8601 (UTC on output)",
  serialize: (v) => String(v),
  parseValue: timestampValue,
  parseLiteral: (ast) => timestampValue(ast.kind === Kind.STRING ? ast.value : undefined),
});

function literal(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literal(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      return undefined;
  }
}

builder.scalarType("jsonb", {
  description: "Any JSON value",
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: (ast, variables) => literal(ast, variables),
});
