import { z } from "zod";

/**
 * What an agent writes, as one JSON line on standard input, to a pre-started executor
 * (`regent execute flow-run --stdin`): the run to execute, and the run config's environment and working
 * directory, which the executor applies to itself before it loads the flow, and the run's own token,
 * which it uses for everything it does for the run.
 */
export const ExecutorAssignmentSchema = z.strictObject({
  flow_run_id: z.string().min(1),
  env: z.record(z.string(), z.string()).default({}),
  working_dir: z.string().min(1).nullable().default(null),
  api_key: z.string().min(1).optional(),
});

export type ExecutorAssignment = z.input<typeof ExecutorAssignmentSchema>;

/**
 * Whether a run with this environment needs a process started with it: Node reads `NODE_*` (options,
 * module paths, CA certificates) and libuv `UV_*` variables only at start-up, and the executor reads its
 * configuration (`REGENT__*`) as it starts, so a pre-started executor could not honour them.
 */
export function needsFreshProcess(env: Readonly<Record<string, string>>): boolean {
  return Object.keys(env).some((key) => /^(NODE_|UV_|REGENT__)/.test(key));
}
