import type { LogLevel } from "../types.js";
import { currentLogger } from "./context.js";

const METHODS = {
  log: "info",
  info: "info",
  warn: "warn",
  error: "error",
  debug: "debug",
} as const satisfies Record<string, LogLevel>;
type Method = keyof typeof METHODS;

let installed = 0;
const originals = new Map<Method, (...args: unknown[]) => void>();

/**
 * While any flow run is active, console output made inside a flow or task becomes a log record of that
 * run; output made elsewhere goes to the console as usual. Reference-counted,
 * so concurrent flow runs share one patch. Returns the function that removes it.
 */
export function captureConsole(): () => void {
  if (installed++ === 0) {
    for (const method of Object.keys(METHODS) as Method[]) {
      const original = console[method] as (...args: unknown[]) => void;
      originals.set(method, original);
      console[method] = (...args: unknown[]) => {
        const logger = currentLogger();
        if (logger) logger.write(METHODS[method], args[0], args.slice(1));
        else original.apply(console, args);
      };
    }
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--installed === 0) {
      for (const [method, original] of originals) console[method] = original;
      originals.clear();
    }
  };
}

/**
 * For a worker process or thread, for good: console output goes to `sink` (which takes it when it runs
 * inside a task, returning true), otherwise to the console as usual.
 */
export function redirectConsole(sink: (level: LogLevel, args: unknown[]) => boolean): void {
  for (const method of Object.keys(METHODS) as Method[]) {
    const original = (console[method] as (...args: unknown[]) => void).bind(console);
    console[method] = (...args: unknown[]) => {
      if (!sink(METHODS[method], args)) original(...args);
    };
  }
}
