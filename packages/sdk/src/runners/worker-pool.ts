import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { InvalidUsageError, NotSerializableError, RegentError } from "@regent/core";
import type { TaskContextImpl, TaskDefinition } from "../internal/engine.js";
import type { FromWorker, ToWorker } from "../internal/pool-protocol.js";
import { reviveError } from "../internal/revive-error.js";
import type { TaskRunner, TaskRunnerInstance } from "../internal/runner.js";
import { Semaphore } from "../internal/semaphore.js";
import { workerEntry } from "../internal/worker-entry.js";

export interface WorkerPoolTaskRunnerOptions {
  /** Worker threads; default: the machine's available parallelism. */
  size?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  ctx: TaskContextImpl;
}

class PoolWorker {
  readonly worker: Worker;
  current: { id: number; pending: Pending } | undefined;
  dead = false;

  constructor(onExit: (w: PoolWorker) => void) {
    this.worker = new Worker(workerEntry("pool-worker"));
    this.worker.on("message", (msg: FromWorker) => {
      const cur = this.current;
      if (!cur || cur.id !== msg.id) return;
      if (msg.type === "log") {
        cur.pending.ctx.log.write(msg.level, msg.message, []);
        return;
      }
      this.current = undefined;
      if (msg.ok) cur.pending.resolve(msg.value);
      else cur.pending.reject(reviveError(msg.error));
    });
    const die = (error: unknown) => {
      if (this.dead) return;
      this.dead = true;
      const cur = this.current;
      this.current = undefined;
      cur?.pending.reject(error);
      onExit(this);
    };
    this.worker.on("error", (error) =>
      die(new RegentError("WORKER_CRASHED", `a pool worker crashed: ${error.message}`, { cause: error })),
    );
    this.worker.on("exit", (code) =>
      die(new RegentError("WORKER_CRASHED", `a pool worker exited with code ${code} while running a task`)),
    );
  }
}

/**
 * Runs task functions in worker threads, for CPU-bound work. Each worker re-imports the flow module and
 * finds the task by name, so tasks must be defined at module scope; inputs and results cross threads by
 * structured clone. A task that times out has its worker terminated and replaced.
 */
export function workerPoolTaskRunner(options: WorkerPoolTaskRunnerOptions = {}): TaskRunner {
  const size = options.size ?? Math.max(1, availableParallelism());
  new Semaphore(size); // validates the option where it is given
  return {
    kind: "worker-pool",
    start(): TaskRunnerInstance {
      const slots = new Semaphore(size);
      const idle: PoolWorker[] = [];
      const all = new Set<PoolWorker>();
      let nextId = 0;
      let closing = false;
      const retire = (w: PoolWorker) => {
        all.delete(w);
        const i = idle.indexOf(w);
        if (i >= 0) idle.splice(i, 1);
      };
      const checkout = () => {
        const w = idle.pop() ?? new PoolWorker(retire);
        all.add(w);
        return w;
      };
      return {
        concurrency: size,
        acquire: () => slots.acquire(),
        release: () => slots.release(),
        run(def: TaskDefinition, input: unknown, ctx: TaskContextImpl): Promise<unknown> {
          if (!def.moduleUrl) {
            throw new InvalidUsageError(
              `task "${def.name}" has no module file a pool worker could import; define it with task() at the top level of a .ts/.js module`,
            );
          }
          const worker = checkout();
          const id = nextId++;
          return new Promise<unknown>((resolve, reject) => {
            const onAbort = () => {
              // CPU-bound work cannot be interrupted: the worker goes, and a fresh one takes its place.
              worker.current = undefined;
              worker.dead = true;
              retire(worker);
              void worker.worker.terminate();
              reject(ctx.signal.reason ?? new Error("aborted"));
            };
            const pending: Pending = {
              resolve: (v) => {
                ctx.signal.removeEventListener("abort", onAbort);
                if (!worker.dead) idle.push(worker);
                resolve(v);
              },
              reject: (e) => {
                ctx.signal.removeEventListener("abort", onAbort);
                if (!worker.dead) idle.push(worker);
                reject(e);
              },
              ctx,
            };
            worker.current = { id, pending };
            const message: ToWorker = {
              type: "run",
              id,
              moduleUrl: def.moduleUrl!,
              name: def.name,
              ordinal: def.ordinal,
              input,
              ctx: {
                taskRunId: ctx.taskRunId,
                flowRunId: ctx.flowRunId,
                taskName: ctx.taskName,
                attempt: ctx.attempt,
                mapIndex: ctx.mapIndex,
                tags: ctx.tags,
              },
            };
            try {
              worker.worker.postMessage(message);
            } catch (error) {
              worker.current = undefined;
              idle.push(worker);
              reject(
                new NotSerializableError(`the input of task "${def.name}" (sent to a pool worker)`, error),
              );
              return;
            }
            if (ctx.signal.aborted) onAbort();
            else ctx.signal.addEventListener("abort", onAbort, { once: true });
          });
        },
        async close() {
          if (closing) return;
          closing = true;
          await Promise.all(
            [...all].map((w) => {
              w.dead = true;
              return w.worker.terminate();
            }),
          );
          all.clear();
          idle.length = 0;
        },
      };
    },
  };
}
