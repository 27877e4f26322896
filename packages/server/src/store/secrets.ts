import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { InvalidUsageError, NotFoundError, RegentError, SECRET_NAME } from "@regent/core";
import { toIsoTimestamp } from "../db/codec.js";
import type { RegentDatabase } from "../db/database.js";
import type { Clock } from "./store.js";

/** A secret as lists show it: never its value. */
export interface SecretInfo {
  readonly name: string;
  readonly created: string;
  readonly updated: string;
}

/** Largest value kept (a certificate chain or a service-account JSON fits). */
const MAX_VALUE_BYTES = 64 * 1024;
const FORMAT = "v1";

/** The secrets key in its configured form (32 bytes in base64); INVALID_USAGE saying how to make one. */
export function parseSecretsKey(text: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32)
    throw new InvalidUsageError(
      `the secrets key must be 32 bytes in base64 (got ${key.length} bytes); make one with: openssl rand -base64 32`,
    );
  return key;
}

/**
 * Secrets for flows, each value encrypted with AES-256-GCM under the server's secrets key, which is not
 * in the database (a copy of the database alone reveals nothing). The secret's name is bound into each
 * value (GCM's associated data), so a value moved to another name does not decrypt.
 */
export class SecretStore {
  constructor(
    private readonly database: RegentDatabase,
    private readonly clock: Clock,
    private readonly key: Buffer | undefined,
  ) {}

  private get db() {
    return this.database.db;
  }

  private requireKey(): Buffer {
    if (!this.key)
      throw new RegentError(
        "SECRETS_UNAVAILABLE",
        "this server has no secrets key: set [server] secrets_key (env REGENT__SERVER__SECRETS_KEY) to 32 bytes in base64, the same on every replica",
      );
    return this.key;
  }

  private encrypt(name: string, value: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.requireKey(), iv);
    cipher.setAAD(Buffer.from(name));
    const data = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return [FORMAT, iv, cipher.getAuthTag(), data]
      .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
      .join(".");
  }

  private decrypt(name: string, stored: string): string {
    const [format, iv, tag, data] = stored.split(".");
    try {
      if (format !== FORMAT || !iv || !tag || data === undefined) throw new Error("unknown format");
      const authTag = Buffer.from(tag, "base64url");
      if (authTag.length !== 16) throw new Error("not a 16-byte tag"); // a cut tag would prove less
      const decipher = createDecipheriv("aes-256-gcm", this.requireKey(), Buffer.from(iv, "base64url"), {
        authTagLength: 16,
      });
      decipher.setAAD(Buffer.from(name));
      decipher.setAuthTag(authTag);
      return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString(
        "utf8",
      );
    } catch (error) {
      if (error instanceof RegentError) throw error;
      throw new RegentError(
        "SECRETS_UNAVAILABLE",
        `secret "${name}" cannot be decrypted with this server's secrets key: it was stored with another key (each replica needs the same [server] secrets_key); set the secret again, or start the server with the key it was stored with`,
      );
    }
  }

  /** Creates or replaces a secret. */
  async set(name: string, value: string): Promise<SecretInfo> {
    if (!SECRET_NAME.test(name))
      throw new InvalidUsageError(
        `a secret's name is 1 to 200 letters, digits and _ . -, starting with a letter, not "${name}"`,
      );
    if (value === "") throw new InvalidUsageError(`secret "${name}": the value is empty`);
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES)
      throw new InvalidUsageError(`secret "${name}": the value is over ${MAX_VALUE_BYTES / 1024} KiB`);
    const sealed = this.encrypt(name, value);
    const now = this.clock().toISOString();
    const row = await this.db
      .insertInto("secret")
      .values({ name, value: sealed, created: now, updated: now } as never)
      .onConflict((oc) => oc.column("name").doUpdateSet({ value: sealed, updated: now } as never))
      .returning(["name", "created", "updated"])
      .executeTakeFirstOrThrow();
    return info(row);
  }

  /** Every secret's name and times, by name. */
  async list(): Promise<SecretInfo[]> {
    const rows = await this.db
      .selectFrom("secret")
      .select(["name", "created", "updated"])
      .orderBy("name")
      .execute();
    return rows.map(info);
  }

  /** Deletes a secret; SECRET_NOT_FOUND when there is none by that name. */
  async delete(name: string): Promise<void> {
    const deleted = await this.db.deleteFrom("secret").where("name", "=", name).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) throw notFound(name);
  }

  /** A secret's value; SECRET_NOT_FOUND when there is none by that name. */
  async value(name: string): Promise<string> {
    const row = await this.db
      .selectFrom("secret")
      .select("value")
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) throw notFound(name);
    return this.decrypt(name, row.value as string);
  }
}

const notFound = (name: string) =>
  new NotFoundError(
    "SECRET_NOT_FOUND",
    `no secret "${name}" on this server: set it with \`regent secret set ${name}\``,
    {
      name,
    },
  );

const info = (row: { name: unknown; created: unknown; updated: unknown }): SecretInfo => ({
  name: row.name as string,
  created: toIsoTimestamp(row.created),
  updated: toIsoTimestamp(row.updated),
});
