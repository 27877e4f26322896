import { graphql } from "@regent/client";
import { type Config, InvalidUsageError } from "@regent/core";
import { client as apiClient, formatTable, print } from "./remote.js";

const Limits = graphql(`
  query Limits { concurrency_limit(order_by: [{ kind: asc }, { name: asc }]) { kind name slots updated } }
`);
const SetLimit = graphql(`
  mutation SetLimit($kind: String!, $name: String!, $limit: Int!) {
    set_concurrency_limit(input: { kind: $kind, name: $name, limit: $limit }) { id }
  }
`);
const DeleteLimit = graphql(`
  mutation DeleteLimit($kind: String!, $name: String!) {
    delete_concurrency_limit(input: { kind: $kind, name: $name }) { success }
  }
`);

/**
 * `regent limit set KIND NAME N`, `regent limit delete KIND NAME`, `regent limit list`: how many flow
 * runs with a label (kind `label`) or task runs with a tag (kind `tag`) run at once, across all agents.
 */
export async function limit(
  config: Config,
  action: string,
  args: readonly string[],
  options: { json?: boolean },
): Promise<number> {
  const client = apiClient(config);
  const json = options.json ?? false;
  switch (action) {
    case "set": {
      const [kind, name, n] = args;
      const slots = Number(n);
      if (!kind || !name || n === undefined || !Number.isInteger(slots) || slots < 0)
        throw new InvalidUsageError(
          "usage: regent limit set label|tag NAME N (N runs at once, a whole number; 0 holds them all)",
        );
      await client.request(SetLimit, { kind, name, limit: slots });
      print(json, { kind, name, limit: slots }, () => `${kind} ${name}: at most ${slots} at once\n`);
      return 0;
    }
    case "delete": {
      const [kind, name] = args;
      if (!kind || !name) throw new InvalidUsageError("usage: regent limit delete label|tag NAME");
      await client.request(DeleteLimit, { kind, name });
      print(json, { kind, name, deleted: true }, () => `${kind} ${name}: no limit\n`);
      return 0;
    }
    case "list": {
      const { concurrency_limit: rows } = await client.request(Limits, {});
      print(json, rows, () =>
        rows.length === 0
          ? "no limits (set one with: regent limit set label|tag NAME N)\n"
          : formatTable(
              ["kind", "name", "limit", "updated"],
              rows.map((r) => [r.kind, r.name, r.slots, r.updated]),
            ),
      );
      return 0;
    }
    default:
      throw new InvalidUsageError(`regent limit takes set, delete or list, not "${action}"`);
  }
}
