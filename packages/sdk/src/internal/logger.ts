import { format } from "node:util";
import type { EngineReporter, Logger, LogLevel } from "../types.js";

/** `ctx.log`: each call becomes a log record of the flow run (and task run) it was made in. */
export class RunLogger implements Logger {
  constructor(
    private readonly reporter: EngineReporter,
    private readonly flowRunId: string,
    private readonly taskRunId?: string,
  ) {}

  write(level: LogLevel, message: unknown, args: unknown[]): void {
    const text = args.length === 0 && typeof message === "string" ? message : format(message, ...args);
    this.reporter.record({
      type: "log",
      log: {
        flowRunId: this.flowRunId,
        taskRunId: this.taskRunId,
        level,
        message: text,
        timestamp: Date.now(),
      },
    });
  }

  debug(message: unknown, ...args: unknown[]): void {
    this.write("debug", message, args);
  }
  info(message: unknown, ...args: unknown[]): void {
    this.write("info", message, args);
  }
  warn(message: unknown, ...args: unknown[]): void {
    this.write("warn", message, args);
  }
  error(message: unknown, ...args: unknown[]): void {
    this.write("error", message, args);
  }
}
