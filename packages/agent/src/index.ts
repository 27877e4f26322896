export { type LocalAgent, type LocalAgentOptions, startLocalAgent } from "./local-agent.js";
