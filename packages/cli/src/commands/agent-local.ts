import { startLocalAgent } from "@regent/agent";
import type { Config } from "@regent/core";
import { REGENT_BIN } from "../bin-path.js";
import { type AgentFlags, agentSettings, runUntilSignalled } from "./agent-start.js";

/**
 * `regent agent local start`: a local agent that runs each claimed flow run as
 * `node regent.js execute flow-run`, until SIGINT or SIGTERM; then it waits for the runs under way (up
 * to 30 s, then ends them) and exits 0.
 */
export async function agentLocalStart(config: Config, options: AgentFlags): Promise<number> {
  const prestarted = config.agent.prestarted;
  const { options: common, log, banner } = agentSettings(config, options, "local");
  return runUntilSignalled(
    () =>
      startLocalAgent({
        ...common,
        executorCommand: [process.execPath, REGENT_BIN, "execute", "flow-run"],
        prestarted,
      }),
    (agent) =>
      banner(
        "Regent local agent",
        agent,
        prestarted ? `, ${prestarted} executor${prestarted === 1 ? "" : "s"} started ahead` : "",
      ),
    log,
  );
}
