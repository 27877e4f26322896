import { describe, expect, test } from "vitest";
import { ZodError } from "zod";
import {
  DatabaseStorageSchema,
  databaseStorage,
  dockerRepository,
  dockerStorage,
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

describe("dockerStorage", () => {
  test.for([
    { input: { registryUrl: "127.0.0.1:5000", imageName: "etl" }, registry: "127.0.0.1:5000" },
    {
      input: { registryUrl: "https://registry.example.com/", imageName: "team/etl" },
      registry: "registry.example.com",
    },
    {
      input: { registryUrl: "ghcr.io/acme", imageName: "flows/etl-nightly", imageTag: "v1.2" },
      registry: "ghcr.io/acme",
    },
  ])("dockerStorage($input.registryUrl, $input.imageName)", ({ input, registry }) => {
    const storage = dockerStorage(input);
    expect(storage).toMatchObject({ type: "docker", registryUrl: registry, imageName: input.imageName });
    expect(dockerRepository(storage)).toBe(`${registry}/${input.imageName}`);
    expect(StorageSchema.parse(storage)).toEqual(storage);
  });

  test("keeps base image, Dockerfile lines, env and files", () => {
    const storage = dockerStorage({
      registryUrl: "r:5000",
      imageName: "etl",
      baseImage: "regent/runtime:0.1.0",
      dockerfileLines: ['RUN ["node", "-e", "1"]'],
      env: { MODE: "prod" },
      files: { "lookup.csv": "/data/lookup.csv" },
    });
    expect(storage.files).toEqual({ "lookup.csv": "/data/lookup.csv" });
    expect(storage.env).toEqual({ MODE: "prod" });
  });
});

describe("StorageSchema", () => {
  test.for([
    { name: "database", input: { type: "database" } },
    { name: "local with a path", input: { type: "local", path: "/srv/flows" } },
    { name: "s3 with a bucket", input: { type: "s3", bucket: "acme-flows" } },
    {
      name: "s3 on an S3-compatible store",
      input: {
        type: "s3",
        bucket: "flows",
        keyPrefix: "prod/",
        endpoint: "http://127.0.0.1:9000",
        forcePathStyle: true,
      },
    },
  ])("accepts $name", ({ input }) => {
    expect(StorageSchema.parse(input)).toEqual(input);
  });

  test.for([
    { name: "an unknown type", input: { type: "git", repo: "b" } },
    { name: "s3 with a bucket name S3 refuses", input: { type: "s3", bucket: "My_Bucket" } },
    { name: "s3 with a key prefix from the root", input: { type: "s3", bucket: "flows", keyPrefix: "/x/" } },
    {
      name: "s3 with an endpoint that is not a URL",
      input: { type: "s3", bucket: "flows", endpoint: "minio:9000" },
    },
    { name: "docker without an image name", input: { type: "docker", registryUrl: "r:5000" } },
    {
      name: "docker with an upper-case name",
      input: { type: "docker", registryUrl: "r:5000", imageName: "Etl" },
    },
    {
      name: "docker with a tag in the name",
      input: { type: "docker", registryUrl: "r", imageName: "etl:1" },
    },
    {
      name: "docker with a bad tag",
      input: { type: "docker", registryUrl: "r", imageName: "etl", imageTag: ".x" },
    },
    {
      name: "docker with a registry that has a space",
      input: { type: "docker", registryUrl: "a b", imageName: "e" },
    },
    {
      name: "docker with a relative file destination",
      input: { type: "docker", registryUrl: "r", imageName: "e", files: { "a.csv": "data/a.csv" } },
    },
    {
      name: "docker with two instructions on a line",
      input: { type: "docker", registryUrl: "r", imageName: "e", dockerfileLines: ["ENV A=1\nENV B=2"] },
    },
    {
      name: "docker with a bad env name",
      input: { type: "docker", registryUrl: "r", imageName: "e", env: { "A-B": "1" } },
    },
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
