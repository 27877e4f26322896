import { describe, expect, test } from "vitest";
import { ZodError } from "zod";
import {
  DatabaseStorageSchema,
  databaseStorage,
  LocalStorageSchema,
  localStorage,
  StorageSchema,
} from "./storage.js";

describe("storage descriptors", () => {
  test("databaseStorage", () => {
    expect(databaseStorage()).toEqual({ type: "database" });
    expect(StorageSchema.parse(databaseStorage())).toEqual({ type: "database" });
  });

  test.for(["/srv/flows", "flows", "C:\\flows", "."])("localStorage(%j)", (path) => {
    expect(localStorage(path)).toEqual({ type: "local", path });
    expect(StorageSchema.parse(localStorage(path))).toEqual({ type: "local", path });
  });

  test("localStorage rejects an empty path", () => {
    expect(() => localStorage("")).toThrow(ZodError);
  });
});

describe("StorageSchema", () => {
  test.for([
    { name: "database", input: { type: "database" } },
    { name: "local with a path", input: { type: "local", path: "/srv/flows" } },
  ])("accepts $name", ({ input }) => {
    expect(StorageSchema.parse(input)).toEqual(input);
  });

  test.for([
    { name: "an unknown type", input: { type: "s3", bucket: "b" } },
    { name: "no type", input: { path: "/x" } },
    { name: "an empty object", input: {} },
    { name: "database with a path", input: { type: "database", path: "/x" } },
    { name: "local without a path", input: { type: "local" } },
    { name: "local with an empty path", input: { type: "local", path: "" } },
    { name: "local with a numeric path", input: { type: "local", path: 1 } },
    { name: "local with an unknown key", input: { type: "local", path: "/x", bucket: "b" } },
    { name: "an upper-case type", input: { type: "Database" } },
    { name: "a bare string", input: "database" },
    { name: "null", input: null },
    { name: "undefined", input: undefined },
  ])("rejects $name", ({ input }) => {
    expect(StorageSchema.safeParse(input).success).toBe(false);
  });

  test("each member schema accepts only its own type", () => {
    expect(DatabaseStorageSchema.safeParse({ type: "local", path: "/x" }).success).toBe(false);
    expect(LocalStorageSchema.safeParse({ type: "database" }).success).toBe(false);
  });
});
