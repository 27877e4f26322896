import { graphql, type ResultOf } from "@regent/client";
import { type Config, InvalidUsageError } from "@regent/core";
import { client as apiClient, print } from "./remote.js";
import { newestFlow } from "./schedule.js";

const Backfill = graphql(`
  mutation Backfill($id: uuid!, $start: timestamptz!, $end: timestamptz!, $dry: Boolean) {
    backfill_flow_runs(input: { flow_id: $id, start: $start, end: $end, dry_run: $dry }) {
      fire_times existing next_start created
    }
  }
`);

export interface BackfillOptions {
  readonly name: string;
  readonly project: string;
  readonly from: string;
  readonly to: string;
  readonly max?: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

const when = (flag: string, text: string): string => {
  const at = Date.parse(text);
  if (Number.isNaN(at))
    throw new InvalidUsageError(
      `${flag} takes an ISO 8601 date or time (2026-01-01, 2026-01-01T06:00:00Z), not "${text}"`,
    );
  return new Date(at).toISOString();
};

/**
 * `regent backfill --name N --project P --from T1 --to T2`: the runs the flow's schedule would have
 * created from T1 to T2 (both included), with each clock's parameters and labels. Counted first (and
 * refused above `--max`), then created page by page; fire times that already have a run are skipped,
 * so a backfill may be repeated.
 */
export async function backfill(config: Config, options: BackfillOptions): Promise<number> {
  const start = when("--from", options.from);
  const end = when("--to", options.to);
  if (start > end) throw new InvalidUsageError(`--from (${start}) is after --to (${end})`);
  const max = options.max === undefined ? 10_000 : Number(options.max);
  if (!Number.isInteger(max) || max < 1)
    throw new InvalidUsageError(`--max takes a whole number of runs, not "${options.max}"`);
  const client = apiClient(config);
  const flow = await newestFlow(client, options.name, options.project);
  const json = options.json ?? false;
  const progress = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };

  const pass = async (dry: boolean) => {
    let fireTimes = 0;
    let existing = 0;
    let created = 0;
    for (let from: string | null = start; from !== null; ) {
      const result: ResultOf<typeof Backfill> = await client.request(Backfill, {
        id: flow.id,
        start: from,
        end,
        dry,
      });
      const page = result.backfill_flow_runs;
      fireTimes += page.fire_times;
      existing += page.existing;
      created += page.created.length;
      from = page.next_start ?? null;
      if (from) progress(`  ${dry ? "counted" : "created"} ${fireTimes} fire times up to ${from}…`);
    }
    return { fireTimes, existing, created };
  };

  const counted = await pass(true);
  if (counted.fireTimes - counted.existing > max)
    throw new InvalidUsageError(
      `the schedule of ${flow.name} fires ${counted.fireTimes} times from ${start} to ${end} (${counted.fireTimes - counted.existing} without a run): more than --max ${max}; narrow the window or raise --max`,
    );
  const done = options.dryRun ? counted : await pass(false);
  const verb = options.dryRun ? "would create" : "created";
  const toCreate = options.dryRun ? counted.fireTimes - counted.existing : done.created;
  print(
    json,
    {
      flow_id: flow.id,
      name: flow.name,
      version: flow.version,
      from: start,
      to: end,
      dry_run: options.dryRun ?? false,
      fire_times: done.fireTimes,
      existing: done.existing,
      created: toCreate,
    },
    () =>
      `backfill of ${flow.name} (version ${flow.version}) from ${start} to ${end}: ${done.fireTimes} fire times, ` +
      `${verb} ${toCreate} run${toCreate === 1 ? "" : "s"}, ${done.existing} already had one\n` +
      (toCreate > 0 && !options.dryRun
        ? `agents carrying the runs' labels take them oldest first; watch with: regent get flow-runs --project ${options.project}\n`
        : ""),
  );
  return 0;
}
