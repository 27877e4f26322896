import type { SerializedError } from "@regent/core";
import type { LogLevel } from "../types.js";

/** Messages between the worker-pool runner and its worker threads. */
export type ToWorker =
  | {
      readonly type: "run";
      readonly id: number;
      readonly moduleUrl: string;
      readonly name: string;
      readonly ordinal: number;
      readonly input: unknown;
      readonly ctx: {
        readonly taskRunId: string;
        readonly flowRunId: string;
        readonly taskName: string;
        readonly attempt: number;
        readonly mapIndex: number;
        readonly tags: readonly string[];
      };
    }
  | { readonly type: "abort"; readonly id: number };

export type FromWorker =
  | {
      readonly type: "log";
      readonly id: number;
      readonly level: LogLevel;
      readonly message: string;
      readonly timestamp: number;
    }
  | { readonly type: "done"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: "done"; readonly id: number; readonly ok: false; readonly error: SerializedError };
