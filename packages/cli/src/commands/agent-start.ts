import { hostname } from "node:os";
import type { Agent, AgentOptions } from "@regent/agent";
import { type Config, InvalidUsageError } from "@regent/core";
import { stylerFor } from "../style.js";

export const STOP_TIMEOUT_MS = 30_000;

export interface AgentFlags {
  label: string[];
  name?: string;
  maxConcurrent?: number;
  acceptUnlabeled?: boolean;
}

/** What every `regent agent <kind> start` reads from its flags and config, checked. */
export function agentSettings(config: Config, flags: AgentFlags, kind: string) {
  const { maxConcurrent } = flags;
  if (
    maxConcurrent !== undefined &&
    (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 1000)
  )
    throw new InvalidUsageError("--max-concurrent takes a whole number from 1 to 1000");
  const labels = flags.label.length > 0 ? flags.label : config.agent.labels;
  const name = flags.name ?? config.agent.name ?? `${kind}-${hostname()}`;
  const log = (line: string) => process.stdout.write(`${line}\n`);
  return {
    name,
    labels,
    maxConcurrent,
    log,
    /** What every kind of agent is started with (its own options go beside these). */
    options: {
      apiUrl: config.api,
      apiKey: config.api_key,
      name,
      labels,
      acceptUnlabeled: flags.acceptUnlabeled ?? false,
      maxConcurrent,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      log,
    } satisfies AgentOptions,
    /** The line said once the agent is up: `<title> <name> (<id>) on <api>: waiting for …<extra>`. */
    banner: (title: string, agent: Agent, extra: string) =>
      `${stylerFor(process.stdout)("green", title)} ${name} (${agent.id}) on ${config.api}: waiting for flow runs${
        labels.length ? ` labelled ${labels.join(", ")}` : " without labels"
      }${extra} (Ctrl-C to stop)`,
  };
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
