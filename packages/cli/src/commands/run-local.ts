import { errorCodeOf, RegentError } from "@regent/core";
import type { FlowRunResult } from "@regent/sdk";
import { paramsFromCli } from "../cli-params.js";
import { RunDisplay } from "../display.js";
import { EXIT, exitCodeFor } from "../exit.js";
import { loadFlowFile } from "../load-flow.js";
import { STATE_STYLE, stylerFor } from "../style.js";

export interface RunLocalOptions {
  param: string[];
  paramsJson?: string;
  json?: boolean;
  /** The run's maximum duration, over the flow's timeout ("2h"). */
  timeout?: string;
}

/** `regent run <file>`: runs the file's default-exported flow in this process, no server needed. */
export async function runLocal(file: string, options: RunLocalOptions): Promise<number> {
  const { flow } = await loadFlowFile(file);
  const params = paramsFromCli(options.param, options.paramsJson, flow.paramsJsonSchema);
  // With --json, stdout carries only the result document; progress goes to stderr.
  const display = new RunDisplay(options.json ? process.stderr : process.stdout);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write("\nCancelling the flow run (Ctrl-C again to quit at once)…\n");
    controller.abort(new RegentError("CANCELLED", "cancelled by Ctrl-C"));
  };
  process.on("SIGINT", onSigint);
  let result: FlowRunResult<unknown>;
  try {
    result = await flow.run(params as never, {
      reporter: display,
      signal: controller.signal,
      ...(options.timeout ? { timeout: options.timeout } : {}),
    });
  } finally {
    display.stop();
    process.off("SIGINT", onSigint);
  }
  if (options.json) process.stdout.write(`${JSON.stringify(summary(result), null, 2)}\n`);
  else printSummary(result);
  if (result.state.type === "Paused") return EXIT.paused;
  return result.state.type === "Success" ? EXIT.ok : EXIT.failed;
}

function counts(result: FlowRunResult<unknown>): Record<string, number> {
  const byState: Record<string, number> = {};
  for (const r of result.taskRuns) {
    const t = r.state?.type ?? "Pending";
    byState[t] = (byState[t] ?? 0) + 1;
  }
  return byState;
}

function summary(result: FlowRunResult<unknown>) {
  const started = result.states[0]?.timestamp ?? result.state.timestamp;
  return {
    id: result.id,
    name: result.name,
    flow: result.flowName,
    state: result.state.type,
    message: result.state.message,
    parameters: result.parameters,
    result: result.result,
    durationMs: result.state.timestamp - started,
    taskRuns: { total: result.taskRuns.length, byState: counts(result) },
    failedTaskRuns: result.taskRuns
      .filter((r) => r.state && ["Failed", "TimedOut", "TriggerFailed"].includes(r.state.type))
      .slice(0, 100)
      .map((r) => ({
        task: r.label,
        state: r.state?.type,
        message: r.state?.message,
        code: r.state?.error?.code,
      })),
    error: result.state.error,
  };
}

function printSummary(result: FlowRunResult<unknown>): void {
  const paint = stylerFor(process.stdout);
  const s = summary(result);
  const state = paint(STATE_STYLE[s.state] ?? "white", s.state);
  const tallies = Object.entries(s.taskRuns.byState)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  process.stdout.write(
    `\nFlow run ${result.name} ${s.state === "Paused" ? "stopped" : "finished"} ${state} in ${s.durationMs} ms` +
      ` (${s.taskRuns.total} task run${s.taskRuns.total === 1 ? "" : "s"}${tallies ? `: ${tallies}` : ""})\n`,
  );
  if (result.state.type !== "Success" && result.state.message)
    process.stdout.write(`  ${result.state.message}\n`);
  if (result.state.type === "Paused")
    process.stdout.write(
      "  A local run stops at a pause: register the flow and run it on a server, where `regent resume` takes it on.\n",
    );
  if (
    result.state.type === "Failed" &&
    result.state.error?.stack &&
    errorCodeOf(result.error) !== "TASK_FAILED"
  ) {
    process.stdout.write(`${paint("gray", result.state.error.stack)}\n`);
  }
}

export { exitCodeFor };
