export type { Agent, AgentOptions } from "./agent-options.js";
export {
  type ClusterRunInfo,
  type ClusterWorkerLaunchersOptions,
  clusterWorkerLaunchers,
} from "./cluster-workers.js";
export {
  type DockerAgent,
  type DockerAgentOptions,
  startDockerAgent,
} from "./docker-agent.js";
export { type EcsAgent, type EcsAgentOptions, startEcsAgent } from "./ecs-agent.js";
export {
  type KubernetesAgent,
  type KubernetesAgentOptions,
  startKubernetesAgent,
} from "./kubernetes-agent.js";
export { type LocalAgent, type LocalAgentOptions, startLocalAgent } from "./local-agent.js";
