export type { Agent, AgentOptions } from "./agent-options.js";
export {
  type DockerAgent,
  type DockerAgentOptions,
  dockerConfigAuth,
  type RegistryAuth,
  startDockerAgent,
} from "./docker-agent.js";
export { type LocalAgent, type LocalAgentOptions, startLocalAgent } from "./local-agent.js";
