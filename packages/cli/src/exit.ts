import { errorCodeOf } from "@regent/core";

/** 3: the run is Paused, waiting for a person to resume it. */
export const EXIT = { ok: 0, failed: 1, usage: 2, paused: 3 } as const;

/**
 * Exit status for an error that stopped a command before or outside a run: 2 when the user can fix the
 * invocation or the flow file (usage, parameters, a file that does not load), 1 otherwise.
 */
export function exitCodeFor(error: unknown): number {
  switch (errorCodeOf(error, "INFRASTRUCTURE_FAILURE")) {
    case "INVALID_USAGE":
    case "INVALID_PARAMETERS":
    case "INVALID_CONFIG":
    case "FLOW_LOAD_FAILED":
    case "FLOW_NOT_FOUND":
      return EXIT.usage;
    default:
      return EXIT.failed;
  }
}
