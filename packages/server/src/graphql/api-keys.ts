import { InvalidUsageError, parseDuration, SCOPES } from "@regent/core";
import type { ApiKeyInfo } from "../store/api-keys.js";
import { builder } from "./builder.js";

const ScopeEnum = builder.enumType("api_key_scope", { values: SCOPES });

const ApiKey = builder.objectRef<ApiKeyInfo>("api_key").implement({
  description: "An API key, without the key itself (it is shown once, when created)",
  fields: (t) => ({
    id: t.field({ type: "uuid", resolve: (k) => k.id }),
    name: t.exposeString("name"),
    scope: t.field({ type: ScopeEnum, resolve: (k) => k.scope }),
    prefix: t.exposeString("prefix", { description: "the key's first characters, to tell keys apart" }),
    created: t.field({ type: "timestamptz", resolve: (k) => k.created }),
    created_by: t.field({
      type: "uuid",
      nullable: true,
      description: "the key that created it; null when made without one (loopback, or `--db`)",
      resolve: (k) => k.created_by,
    }),
    expires: t.field({ type: "timestamptz", nullable: true, resolve: (k) => k.expires }),
    revoked: t.field({ type: "timestamptz", nullable: true, resolve: (k) => k.revoked }),
    last_used: t.field({
      type: "timestamptz",
      nullable: true,
      description: "when it was last used, to the minute",
      resolve: (k) => k.last_used,
    }),
  }),
});

const AuthInfo = builder
  .objectRef<{ scope: string; key_id: string | null; key_name: string | null; keys_required: boolean }>(
    "auth_info",
  )
  .implement({
    description: "Who the API takes this request to be from",
    fields: (t) => ({
      scope: t.field({ type: ScopeEnum, resolve: (a) => a.scope as (typeof SCOPES)[number] }),
      key_id: t.field({ type: "uuid", nullable: true, resolve: (a) => a.key_id }),
      key_name: t.exposeString("key_name", { nullable: true }),
      keys_required: t.exposeBoolean("keys_required", {
        description: "whether this server refuses requests without a key",
      }),
    }),
  });

builder.queryFields((t) => ({
  api_keys: t.field({
    type: [ApiKey],
    description: "Every API key, newest first (revoked ones say when)",
    resolve: (_root, _args, ctx) => ctx.store.apiKeys.list(),
  }),
  auth_info: t.field({
    type: AuthInfo,
    resolve: (_root, _args, ctx) => ({
      scope: ctx.principal.scope,
      key_id: ctx.principal.keyId ?? null,
      key_name: ctx.principal.keyName ?? null,
      keys_required: ctx.keysRequired,
    }),
  }),
}));

builder.mutationFields((t) => ({
  create_api_key: t.field({
    type: builder.objectRef<{ key: string; info: ApiKeyInfo }>("create_api_key_payload").implement({
      fields: (f) => ({
        id: f.field({ type: "uuid", resolve: (p) => p.info.id }),
        key: f.exposeString("key", { description: "the key: shown this once, never again" }),
        api_key: f.field({ type: ApiKey, resolve: (p) => p.info }),
      }),
    }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("create_api_key_input", {
          fields: (f) => ({
            name: f.string({ required: true }),
            scope: f.field({ type: ScopeEnum, required: true }),
            expires_at: f.field({ type: "timestamptz", required: false }),
            expires_in: f.string({ required: false, description: "instead of expires_at: `30d`, `12h`, …" }),
          }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) => {
      if (input.expires_at && input.expires_in)
        throw new InvalidUsageError("give expires_at or expires_in, not both");
      const expires = input.expires_at
        ? new Date(input.expires_at)
        : input.expires_in
          ? new Date(ctx.store.currentTime().getTime() + parseDuration(input.expires_in, "expires_in"))
          : undefined;
      return ctx.store.apiKeys.create({
        name: input.name,
        scope: input.scope,
        expires,
        createdBy: ctx.principal.keyId,
      });
    },
  }),
  revoke_api_key: t.field({
    type: ApiKey,
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("revoke_api_key_input", {
          fields: (f) => ({ id_or_name: f.string({ required: true }) }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.store.apiKeys.revoke(input.id_or_name),
  }),
}));
