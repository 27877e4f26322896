import { hostname } from "node:os";
import { startDockerAgent } from "@regent/agent";
import { type Config, InvalidUsageError } from "@regent/core";
import { stylerFor } from "../style.js";
import { runUntilSignalled, STOP_TIMEOUT_MS } from "./agent-local.js";

/**
 * `regent agent docker start`: a Docker agent that runs each claimed flow run in a container (the run
 * config's image, or `--image`), until SIGINT or SIGTERM; then it waits for the runs under way (up to
 * 30 s, then stops their containers) and exits 0.
 */
export async function agentDockerStart(
  config: Config,
  options: {
    label: string[];
    name?: string;
    maxConcurrent?: number;
    acceptUnlabeled?: boolean;
    image?: string;
    network?: string;
    keepContainers?: boolean;
  },
): Promise<number> {
  const { maxConcurrent } = options;
  if (
    maxConcurrent !== undefined &&
    (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 1000)
  )
    throw new InvalidUsageError("--max-concurrent takes a whole number from 1 to 1000");
  const paint = stylerFor(process.stdout);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const labels = options.label.length > 0 ? options.label : config.agent.labels;
  const name = options.name ?? config.agent.name ?? `docker-${hostname()}`;
  return runUntilSignalled(
    () =>
      startDockerAgent({
        apiUrl: config.api,
        apiKey: config.api_key,
        name,
        labels,
        acceptUnlabeled: options.acceptUnlabeled ?? false,
        maxConcurrent,
        image: options.image,
        network: options.network,
        removeContainers: !options.keepContainers,
        stopTimeoutMs: STOP_TIMEOUT_MS,
        log,
      }),
    (agent) =>
      `${paint("green", "Regent Docker agent")} ${name} (${agent.id}) on ${config.api}: waiting for flow runs${
        labels.length ? ` labelled ${labels.join(", ")}` : " without labels"
      }, network ${options.network ?? "host"} (Ctrl-C to stop)`,
    log,
  );
}
