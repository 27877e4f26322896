import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { isFinal, RUN_TOKEN_PREFIX, type RunStateType, UnauthenticatedError } from "@regent/core";
import { toIsoTimestamp } from "../db/codec.js";
import type { RegentDatabase } from "../db/database.js";
import type { Clock } from "./store.js";

const KEY_NAME = "run_token";
/** How long a run's token still works once the run has ended: late retries of its last reports. */
export const AFTER_END_MS = 10 * 60_000;
const LIVE_CACHE_MS = 5_000;
const LIVE_CACHE_MAX = 10_000;
const UUID_HEX = /^[0-9a-f]{32}$/;

/**
 * The token each claimed run gets, so the process that runs it can report for that run and nothing
 * else: `rgr_<run id>_<HMAC-SHA256 of the run id>`. Nothing is stored per token: the server checks the
 * MAC with its `run_token` key, kept in the database so that every replica checks alike. A token works
 * while its run has not ended, and for AFTER_END_MS after (a report retried after the final state went
 * through); a restarted run's token works again.
 */
export class RunTokens {
  private key: Promise<Buffer> | undefined;
  /** Runs whose tokens were found live, until when (epoch ms). */
  private readonly liveUntil = new Map<string, number>();

  constructor(
    private readonly database: RegentDatabase,
    private readonly clock: Clock,
  ) {}

  /** The signing key: made by the first server to need it, read by the others. */
  private signingKey(): Promise<Buffer> {
    this.key ??= (async () => {
      const db = this.database.db;
      const fresh = randomBytes(32).toString("base64url");
      // Two replicas starting together both insert; the loser's insert is ignored and both read one key.
      await db
        .insertInto("server_key")
        .values({ name: KEY_NAME, value: fresh, created: this.clock().toISOString() } as never)
        .onConflict((oc) => oc.column("name").doNothing())
        .execute();
      const row = await db
        .selectFrom("server_key")
        .select("value")
        .where("name", "=", KEY_NAME)
        .executeTakeFirstOrThrow();
      return Buffer.from(row.value as string, "base64url");
    })().catch((error) => {
      this.key = undefined; // a database that was down is asked again next time
      throw error;
    });
    return this.key;
  }

  private async mac(hexId: string): Promise<Buffer> {
    return createHmac("sha256", await this.signingKey())
      .update(`run:${hexId}`)
      .digest();
  }

  /** The token for a run. */
  async mint(flowRunId: string): Promise<string> {
    const hexId = flowRunId.replaceAll("-", "").toLowerCase();
    return `${RUN_TOKEN_PREFIX}${hexId}_${(await this.mac(hexId)).toString("base64url")}`;
  }

  /** UNAUTHENTICATED unless the run exists and has not ended (or ended within AFTER_END_MS). */
  async requireLive(flowRunId: string): Promise<void> {
    const now = this.clock().getTime();
    if ((this.liveUntil.get(flowRunId) ?? 0) > now) return;
    const run = await this.database.db
      .selectFrom("flow_run")
      .select(["state", "state_timestamp"])
      .where("id", "=", flowRunId)
      .executeTakeFirst();
    if (!run) throw new UnauthenticatedError(`this run token's run ${flowRunId} is not on this server`);
    // An executor reports every few milliseconds: its run's verdict is kept LIVE_CACHE_MS (within the
    // grace after its end), as API keys are, rather than read on each request.
    let until = now + LIVE_CACHE_MS;
    if (isFinal(run.state as RunStateType)) {
      const ended = Date.parse(toIsoTimestamp(run.state_timestamp));
      if (now - ended > AFTER_END_MS)
        throw new UnauthenticatedError(
          `this run token's run ended ${run.state} at ${toIsoTimestamp(run.state_timestamp)}: a run's token stops working ${AFTER_END_MS / 60_000} minutes after its run ends`,
        );
      until = Math.min(until, ended + AFTER_END_MS);
    }
    if (this.liveUntil.size >= LIVE_CACHE_MAX) this.liveUntil.clear();
    this.liveUntil.set(flowRunId, until);
  }

  /** The run a token is for; UNAUTHENTICATED when this server did not mint it. */
  async verify(token: string): Promise<string> {
    const rest = token.slice(RUN_TOKEN_PREFIX.length);
    const hexId = rest.slice(0, 32); // the signature may hold "_" too (base64url)
    const given = Buffer.from(rest.slice(33), "base64url");
    if (!UUID_HEX.test(hexId) || rest[32] !== "_" || given.length !== 32)
      throw new UnauthenticatedError("that is not a run token: a run's token is rgr_<run id>_<signature>");
    if (!timingSafeEqual(given, await this.mac(hexId)))
      throw new UnauthenticatedError(
        "this run token was not made by this server (or its database was replaced): the run's agent has to claim it again",
      );
    return `${hexId.slice(0, 8)}-${hexId.slice(8, 12)}-${hexId.slice(12, 16)}-${hexId.slice(16, 20)}-${hexId.slice(20)}`;
  }
}
