// Entry point of a worker thread of `workerPoolTaskRunner`: re-imports the flow module, finds the task by
// name and runs it, one task at a time.
import { format } from "node:util";
import { parentPort } from "node:worker_threads";
import {
  InvalidUsageError,
  NotSerializableError,
  parseSecretRef,
  serializeError,
  TaskNotFoundError,
} from "@regent/core";
import type { TaskContext } from "../context.js";
import { maskDeep, maskRevealed, resolveSecret } from "../secrets.js";
import type { Logger, LogLevel } from "../types.js";
import { redirectConsole } from "./console-capture.js";
import type { FromWorker, ToWorker } from "./pool-protocol.js";
import { findTask } from "./registry.js";

const port = parentPort;
if (!port) throw new Error("pool-worker.js runs only as a worker thread");

const controllers = new Map<number, AbortController>();
let currentId: number | undefined;

const post = (message: FromWorker) => port.postMessage(message);

/** ctx.secret in a worker thread: its own sources, but not the server's store (the flow's thread talks to it). */
function secret(ref: string): Promise<string> {
  if (parseSecretRef(ref).source === "store")
    return Promise.reject(
      new InvalidUsageError(
        `ctx.secret("${ref}") reads the server's secret store, which a worker-pool task cannot reach: read it in the flow and pass the value, or use env:, ssm: or secretsmanager:`,
      ),
    );
  return resolveSecret(ref, undefined);
}

function logFor(id: number): Logger {
  const write =
    (level: LogLevel) =>
    (message: unknown, ...args: unknown[]) =>
      post({
        type: "log",
        id,
        level,
        message: maskRevealed(format(message, ...args)),
        timestamp: Date.now(),
      });
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

// Console output of the running task becomes its log, as in the flow's own thread.
redirectConsole((level, args) => {
  if (currentId === undefined) return false;
  post({ type: "log", id: currentId, level, message: maskRevealed(format(...args)), timestamp: Date.now() });
  return true;
});

async function run(msg: Extract<ToWorker, { type: "run" }>): Promise<void> {
  const controller = new AbortController();
  controllers.set(msg.id, controller);
  currentId = msg.id;
  try {
    await import(msg.moduleUrl);
    const task = findTask(msg.moduleUrl, msg.name, msg.ordinal) as
      | { fn: (input: unknown, ctx: TaskContext) => unknown }
      | undefined;
    if (!task) throw new TaskNotFoundError(msg.name, msg.moduleUrl);
    const ctx: TaskContext = { ...msg.ctx, signal: controller.signal, log: logFor(msg.id), secret };
    const value = await task.fn(msg.input, ctx);
    try {
      post({ type: "done", id: msg.id, ok: true, value });
    } catch (error) {
      throw new NotSerializableError(
        `the result of task "${msg.name}" (sent back from a pool worker)`,
        error,
      );
    }
  } catch (error) {
    post({ type: "done", id: msg.id, ok: false, error: maskDeep(serializeError(error)) });
  } finally {
    controllers.delete(msg.id);
    currentId = undefined;
  }
}

port.on("message", (msg: ToWorker) => {
  if (msg.type === "run") void run(msg);
  else controllers.get(msg.id)?.abort();
});
