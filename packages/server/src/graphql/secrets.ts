import { ForbiddenError, isFinal, type RunStateType } from "@regent/core";
import type { SecretInfo } from "../store/secrets.js";
import { builder } from "./builder.js";

// Secrets for flows: set, listed by name and deleted by people; read only by runs (`ctx.secret`), with
// their own token. Values are never listed or echoed.

const Secret = builder.objectRef<SecretInfo>("secret").implement({
  description: "A secret for flows, without its value",
  fields: (t) => ({
    name: t.exposeString("name"),
    created: t.field({ type: "timestamptz", resolve: (s) => s.created }),
    updated: t.field({ type: "timestamptz", resolve: (s) => s.updated }),
  }),
});

builder.queryFields((t) => ({
  secrets: t.field({
    type: [Secret],
    description: "Every secret's name, by name (values are never listed)",
    resolve: (_root, _args, ctx) => ctx.store.secrets.list(),
  }),
  secret_value: t.string({
    description:
      "A secret's value, for the run that asks with its own token (`ctx.secret`); SECRET_NOT_FOUND when there is none",
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      const own = ctx.principal.flowRunId;
      if (own !== undefined) {
        const run = await ctx.loader("flow_run", "id").load(own);
        if (!run || isFinal(run.state as RunStateType))
          throw new ForbiddenError(`run ${own} has ended: a run reads secrets only while it runs`);
      }
      return ctx.store.secrets.value(name);
    },
  }),
}));

builder.mutationFields((t) => ({
  set_secret: t.field({
    type: Secret,
    description: "Creates or replaces a secret (encrypted with the server's secrets key)",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("set_secret_input", {
          fields: (f) => ({ name: f.string({ required: true }), value: f.string({ required: true }) }),
        }),
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.store.secrets.set(input.name, input.value),
  }),
  delete_secret: t.field({
    type: builder.objectRef<{ success: boolean }>("delete_secret_payload").implement({
      fields: (f) => ({ success: f.exposeBoolean("success") }),
    }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("delete_secret_input", {
          fields: (f) => ({ name: f.string({ required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await ctx.store.secrets.delete(input.name);
      return { success: true };
    },
  }),
}));
