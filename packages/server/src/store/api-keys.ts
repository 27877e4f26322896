import { createHash, randomBytes } from "node:crypto";
import {
  API_KEY_PREFIX,
  InvalidUsageError,
  NotFoundError,
  newId,
  type Scope,
  ScopeSchema,
  UnauthenticatedError,
} from "@regent/core";
import { decodeRow, encodeRow } from "../db/codec.js";
import type { RegentDatabase } from "../db/database.js";
import type { Row } from "../db/tables.js";
import type { Clock } from "./store.js";

/** An API key as lists show it: never the key or its hash. */
export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  readonly scope: Scope;
  /** The key's first characters, to tell keys apart. */
  readonly prefix: string;
  readonly created: string;
  readonly created_by: string | null;
  readonly expires: string | null;
  readonly revoked: string | null;
  readonly last_used: string | null;
}

/** Who a request comes from, once its key is checked. */
export interface Principal {
  /** Undefined for a request without a key to a server that does not require keys. */
  readonly keyId: string | undefined;
  readonly keyName: string | undefined;
  readonly scope: Scope;
  /**
   * Set for a run's token: the run it may report for (it has the runner scope, narrowed to that run and
   * the child runs it starts; see the server's RUN_TOKEN_FIELDS).
   */
  readonly flowRunId?: string;
}

// Keys are 32 random bytes, so a plain SHA-256 cannot be reversed or guessed; a slow KDF would add tens
// of milliseconds to every request for nothing. Looked-up keys are kept this long per replica, so a
// revocation reaches other replicas within it (this replica forgets at once).
const CACHE_MS = 5_000;
const CACHE_MAX = 1_000;
// last_used is written at most this often per key: one write per request would double the load.
const LAST_USED_EVERY_MS = 60_000;
const NAME = /^[\w.@:-]{1,100}$/;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export const hashApiKey = (key: string): string => createHash("sha256").update(key).digest("hex");

const info = (row: Row<"api_key">): ApiKeyInfo => ({
  id: row.id as string,
  name: row.name as string,
  scope: row.scope as Scope,
  prefix: row.prefix as string,
  created: row.created as string,
  created_by: row.created_by,
  expires: row.expires,
  revoked: row.revoked,
  last_used: row.last_used,
});

/** API keys: created (the key returned once), listed, revoked, and checked on every request. */
export class ApiKeyStore {
  private readonly cache = new Map<string, { row: Mutable<Row<"api_key">> | undefined; until: number }>();

  constructor(
    private readonly database: RegentDatabase,
    private readonly clock: Clock,
  ) {}

  private get db() {
    return this.database.db;
  }

  async create(input: {
    name: string;
    scope: string;
    expires?: Date | undefined;
    createdBy?: string | undefined;
  }): Promise<{ key: string; info: ApiKeyInfo }> {
    const scope = ScopeSchema.safeParse(input.scope);
    if (!scope.success)
      throw new InvalidUsageError(`a key's scope is admin, user or runner, not "${input.scope}"`);
    if (!NAME.test(input.name))
      throw new InvalidUsageError(
        `a key's name is 1 to 100 letters, digits and . _ @ : -, not "${input.name}"`,
      );
    const now = this.clock();
    if (input.expires && input.expires.getTime() <= now.getTime())
      throw new InvalidUsageError(`a key's expiry must be in the future (${input.expires.toISOString()})`);
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
    const row = await this.db.transaction().execute(async (tx) => {
      const taken = await tx
        .selectFrom("api_key")
        .select("id")
        .where("name", "=", input.name)
        .executeTakeFirst();
      if (taken)
        throw new InvalidUsageError(
          `an API key named "${input.name}" exists already: pick another name, or revoke that key first`,
        );
      const inserted = await tx
        .insertInto("api_key")
        .values(
          encodeRow("api_key", this.database.dialect, {
            id: newId(),
            name: input.name,
            scope: scope.data,
            key_hash: hashApiKey(key),
            prefix: key.slice(0, API_KEY_PREFIX.length + 6),
            created: now.toISOString(),
            created_by: input.createdBy ?? null,
            expires: input.expires?.toISOString() ?? null,
            revoked: null,
            last_used: null,
          }) as never,
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      return decodeRow("api_key", inserted);
    });
    return { key, info: info(row) };
  }

  /** Every key, newest first; revoked ones too (they say when). */
  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.db.selectFrom("api_key").selectAll().orderBy("created", "desc").execute();
    return rows.map((r) => info(decodeRow("api_key", r)));
  }

  /** Revokes the key with this id or name; revoking a revoked key changes nothing. */
  async revoke(idOrName: string): Promise<ApiKeyInfo> {
    const isId = /^[0-9a-f-]{36}$/i.test(idOrName);
    const row = await this.db
      .selectFrom("api_key")
      .selectAll()
      .where(isId ? "id" : "name", "=", idOrName)
      .executeTakeFirst();
    if (!row)
      throw new NotFoundError("API_KEY_NOT_FOUND", `no API key with id or name "${idOrName}"`, {
        key: idOrName,
      });
    const current = decodeRow("api_key", row);
    if (current.revoked) return info(current);
    const revoked = this.clock().toISOString();
    await this.db
      .updateTable("api_key")
      .set({ revoked })
      .where("id", "=", current.id as string)
      .execute();
    this.cache.clear();
    return info({ ...current, revoked });
  }

  /** The principal of a presented key; UNAUTHENTICATED (saying why) for a key the server will not take. */
  async authenticate(key: string): Promise<Principal> {
    const hash = hashApiKey(key);
    const nowMs = this.clock().getTime();
    let cached = this.cache.get(hash);
    if (!cached || cached.until < nowMs) {
      const row = await this.db
        .selectFrom("api_key")
        .selectAll()
        .where("key_hash", "=", hash)
        .executeTakeFirst();
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      cached = { row: row ? decodeRow("api_key", row) : undefined, until: nowMs + CACHE_MS };
      this.cache.set(hash, cached);
    }
    const row = cached.row;
    if (!row)
      throw new UnauthenticatedError("the API key is not known to this server: check it, or create one");
    if (row.revoked)
      throw new UnauthenticatedError(
        `the API key "${row.name}" was revoked at ${row.revoked}: use another key`,
      );
    if (row.expires && Date.parse(row.expires) <= nowMs)
      throw new UnauthenticatedError(`the API key "${row.name}" expired at ${row.expires}: create a new key`);
    if (!row.last_used || Date.parse(row.last_used) + LAST_USED_EVERY_MS <= nowMs) {
      const lastUsed = new Date(nowMs).toISOString();
      row.last_used = lastUsed; // the cached row too, so the next requests do not write again
      // Awaited (once a minute per key), so what a list shows right after a use includes it.
      await this.db
        .updateTable("api_key")
        .set({ last_used: lastUsed })
        .where("id", "=", row.id as string)
        .execute()
        .catch(() => {
          // A missed last-used time is not worth failing the request for; the next use writes it.
        });
    }
    return { keyId: row.id as string, keyName: row.name as string, scope: row.scope as Scope };
  }
}
