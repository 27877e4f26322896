// KubeConfig from the Kubernetes client, in a module the agent loads on demand (see kubernetes-agent.ts).
export { KubeConfig } from "@kubernetes/client-node";
