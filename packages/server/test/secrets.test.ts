import { randomBytes } from "node:crypto";
import { BACKENDS } from "@regent/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { parseSecretsKey } from "../src/index.js";
import { type Api, seedFlow, startApi } from "./helpers.js";

// Secrets for flows: people set, list and delete them; only runs (their tokens) and admins read values;
// values are encrypted at rest with a key that is not in the database.

const SET = `mutation($name: String!, $value: String!) { set_secret(input: { name: $name, value: $value }) { name created updated } }`;
const VALUE = `query($name: String!) { secret_value(name: $name) }`;

for (const backend of BACKENDS) {
  describe(`secrets on ${backend}`, () => {
    let api: Api;
    const key = randomBytes(32);
    let admin: string;
    let user: string;
    let runner: string;
    beforeEach(async () => {
      api = await startApi(backend, { services: false, keysRequired: true, secretsKey: key });
      admin = (await api.server.store.apiKeys.create({ name: "boot", scope: "admin" })).key;
      user = (await api.server.store.apiKeys.create({ name: "dev", scope: "user" })).key;
      runner = (await api.server.store.apiKeys.create({ name: "agent", scope: "runner" })).key;
    });
    afterEach(async () => {
      await api.close();
    });

    test("a user sets, lists and deletes secrets; runs read their values, users and agents cannot", async () => {
      const set = await api.gql(SET, { name: "DB_PASSWORD", value: "hunter2-db" }, user);
      expect(set.errors).toBeUndefined();
      expect(set.data.set_secret.name).toBe("DB_PASSWORD");
      expect(JSON.stringify(set.data)).not.toContain("hunter2");

      // Encrypted at rest: the row holds no trace of the value.
      const row = await api.server.store.database.db
        .selectFrom("secret")
        .selectAll()
        .executeTakeFirstOrThrow();
      expect(String(row.value)).toMatch(/^v1\./);
      expect(String(row.value)).not.toContain("hunter2");
      expect(Buffer.from(String(row.value).split(".")[3]!, "base64url").toString()).not.toContain("hunter2");

      // Replacing keeps one row, a later update time.
      await api.gql(SET, { name: "DB_PASSWORD", value: "hunter3-db" }, user);
      const listed = await api.gql(`{ secrets { name } }`, {}, user);
      expect(listed.data.secrets).toEqual([{ name: "DB_PASSWORD" }]);

      // A run's token reads it; so does an admin; a user or an agent's runner key may not.
      const { projectId: _p, flowId } = await seedFlow({
        ...api,
        ok: async (q, v) => (await api.gql(q, v, admin)).data,
      });
      const run = (
        await api.gql(
          `mutation($id: uuid!) { create_flow_run(input: { flow_id: $id }) { id } }`,
          { id: flowId },
          admin,
        )
      ).data.create_flow_run.id;
      const token = await api.server.store.runTokens.mint(run);
      expect((await api.gql(VALUE, { name: "DB_PASSWORD" }, token)).data.secret_value).toBe("hunter3-db");
      expect((await api.gql(VALUE, { name: "DB_PASSWORD" }, admin)).data.secret_value).toBe("hunter3-db");
      for (const who of [user, runner]) {
        const r = await api.gql(VALUE, { name: "DB_PASSWORD" }, who);
        expect(r.status).toBe(403);
        expect(r.errors?.[0].message).toMatch(/secret_value needs a key with scope admin/);
      }
      // A run's token cannot list, set or delete.
      for (const q of [
        `{ secrets { name } }`,
        `mutation { delete_secret(input: { name: "DB_PASSWORD" }) { success } }`,
      ]) {
        const r = await api.gql(q, {}, token);
        expect(r.status, q).toBe(403);
      }

      const missing = await api.gql(VALUE, { name: "NOT_THERE" }, token);
      expect(missing.errors?.[0]).toMatchObject({
        extensions: { code: "SECRET_NOT_FOUND" },
        message: expect.stringMatching(
          /no secret "NOT_THERE" on this server: set it with `regent secret set NOT_THERE`/,
        ),
      });
      const deleted = await api.gql(
        `mutation { delete_secret(input: { name: "DB_PASSWORD" }) { success } }`,
        {},
        user,
      );
      expect(deleted.data.delete_secret.success).toBe(true);
      expect((await api.gql(VALUE, { name: "DB_PASSWORD" }, token)).errors?.[0].extensions.code).toBe(
        "SECRET_NOT_FOUND",
      );
      const again = await api.gql(
        `mutation { delete_secret(input: { name: "DB_PASSWORD" }) { success } }`,
        {},
        user,
      );
      expect(again.errors?.[0].extensions.code).toBe("SECRET_NOT_FOUND");
    });

    test("bad names and values are refused, saying what is allowed, and nothing is stored", async () => {
      for (const [name, value, why] of [
        ["has space", "v", /a secret's name is 1 to 200 letters/],
        ["1ST", "v", /starting with a letter/],
        ["EMPTY", "", /the value is empty/],
        ["BIG", "x".repeat(64 * 1024 + 1), /over 64 KiB/],
      ] as const) {
        const r = await api.gql(SET, { name, value }, user);
        expect(r.errors?.[0].extensions.code, name).toBe("INVALID_USAGE");
        expect(r.errors?.[0].message).toMatch(why);
      }
      expect((await api.gql(`{ secrets { name } }`, {}, user)).data.secrets).toEqual([]);
    });
  });
}

describe("the secrets key", () => {
  test("a server with another key, or none, cannot read secrets and says why", async () => {
    const api = await startApi("sqlite", { services: false, secretsKey: randomBytes(32) });
    try {
      await api.ok(SET, { name: "TOKEN", value: "abc123-token" });
      const other = new (
        api.server.store.secrets.constructor as typeof import("../src/index.js").SecretStore
      )(api.server.store.database, () => new Date(), randomBytes(32));
      await expect(other.value("TOKEN")).rejects.toThrow(
        /secret "TOKEN" cannot be decrypted with this server's secrets key: it was stored with another key/,
      );
      const none = new (api.server.store.secrets.constructor as typeof import("../src/index.js").SecretStore)(
        api.server.store.database,
        () => new Date(),
        undefined,
      );
      await expect(none.set("X", "y")).rejects.toThrow(
        /this server has no secrets key: set \[server\] secrets_key/,
      );
      // A value moved to another name does not decrypt (the name is bound into it).
      const db = api.server.store.database.db;
      const row = await db.selectFrom("secret").selectAll().executeTakeFirstOrThrow();
      await db
        .insertInto("secret")
        .values({ ...row, name: "MOVED" } as never)
        .execute();
      await expect(api.server.store.secrets.value("MOVED")).rejects.toThrow(/cannot be decrypted/);
      expect(await api.server.store.secrets.value("TOKEN")).toBe("abc123-token");
    } finally {
      await api.close();
    }
  });

  test("parseSecretsKey takes 32 bytes in base64 and says how to make one otherwise", () => {
    const key = randomBytes(32);
    expect(parseSecretsKey(key.toString("base64")).equals(key)).toBe(true);
    expect(() => parseSecretsKey("short")).toThrow(/32 bytes in base64 .*openssl rand -base64 32/);
  });
});
