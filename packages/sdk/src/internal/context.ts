import { AsyncLocalStorage } from "node:async_hooks";
import type { FlowRunEngine } from "./engine.js";
import type { RunLogger } from "./logger.js";

/** What code running inside a flow or task can reach without being passed it. */
export interface RunScope {
  readonly engine: FlowRunEngine;
  readonly logger: RunLogger;
}

export const runScope = new AsyncLocalStorage<RunScope>();

export const currentLogger = (): RunLogger | undefined => runScope.getStore()?.logger;
