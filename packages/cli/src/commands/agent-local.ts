import { hostname } from "node:os";
import { type Agent, startLocalAgent } from "@regent/agent";
import { type Config, InvalidUsageError } from "@regent/core";
import { REGENT_BIN } from "../bin-path.js";
import { stylerFor } from "../style.js";

export const STOP_TIMEOUT_MS = 30_000;

/**
 * `regent agent local start`: a local agent that runs each claimed flow run as
 * `node regent.js execute flow-run`, until SIGINT or SIGTERM; then it waits for the runs under way (up
 * to 30 s, then ends them) and exits 0.
 */
export async function agentLocalStart(
  config: Config,
  options: { label: string[]; name?: string; maxConcurrent?: number; acceptUnlabeled?: boolean },
): Promise<number> {
  const prestarted = config.agent.prestarted;
  const { maxConcurrent } = options;
  if (
    maxConcurrent !== undefined &&
    (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 1000)
  )
    throw new InvalidUsageError("--max-concurrent takes a whole number from 1 to 1000");
  const paint = stylerFor(process.stdout);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const labels = options.label.length > 0 ? options.label : config.agent.labels;
  const name = options.name ?? config.agent.name ?? `local-${hostname()}`;

  return runUntilSignalled(
    () =>
      startLocalAgent({
        apiUrl: config.api,
        apiKey: config.api_key,
        name,
        labels,
        acceptUnlabeled: options.acceptUnlabeled ?? false,
        maxConcurrent,
        executorCommand: [process.execPath, REGENT_BIN, "execute", "flow-run"],
        prestarted,
        stopTimeoutMs: STOP_TIMEOUT_MS,
        log,
      }),
    (agent) =>
      `${paint("green", "Regent local agent")} ${name} (${agent.id}) on ${config.api}: waiting for flow runs${
        labels.length ? ` labelled ${labels.join(", ")}` : " without labels"
      }${prestarted ? `, ${prestarted} executor${prestarted === 1 ? "" : "s"} started ahead` : ""} (Ctrl-C to stop)`,
    log,
  );
}

/**
 * Starts an agent and keeps it until SIGINT or SIGTERM (signals that arrive while it starts are honoured
 * once it is up); then it waits for the runs under way (up to 30 s, then ends them). Exits 0.
 */
export async function runUntilSignalled(
  start: () => Promise<Agent>,
  banner: (agent: Agent) => string,
  log: (line: string) => void,
): Promise<number> {
  let signalled: string | undefined;
  let onSignal: (signal: string) => void = (signal) => {
    signalled ??= signal;
  };
  const handler = (signal: NodeJS.Signals) => onSignal(signal);
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  try {
    const agent = await start();
    log(banner(agent));
    await new Promise<void>((resolve) => {
      let stopping = false;
      onSignal = (signal) => {
        if (stopping) {
          log(
            `${signal}: already stopping; runs still under way are ended ${STOP_TIMEOUT_MS / 1000} s after the first signal`,
          );
          return;
        }
        stopping = true;
        log(`${signal}: stopping…`);
        resolve();
      };
      if (signalled) onSignal(signalled);
    });
    await agent.stop();
    return 0;
  } finally {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  }
}
