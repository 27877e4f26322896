// One worker process of bench/queue (forked by bench/dist/queue.js, one per worker): runs the system it is
// told to, with no-op jobs, and reports to its parent over IPC. It connects on `init` and answers `ready`,
// takes jobs only after `go`, and on `stop` (or when its parent goes) stops the system and exits.
//
// throughput mode: counts handled jobs and sends {handled, firstAt, lastAt} every PROGRESS_MS while it
//                  changes (no message per job: the count is what is measured);
// latency mode:    sends {i, at} as each job's handler starts.
import { bullmqWorkerSide } from "./queue-bullmq.js";
import { graphileWorkerSide } from "./queue-graphile.js";
import { pgBossWorkerSide } from "./queue-pg-boss.js";
import { regentWorkerSide } from "./queue-regent.js";
import {
  epochNow,
  type FromWorker,
  type JobPayload,
  PROGRESS_MS,
  type PreparedWorker,
  type QueueWorkerSide,
  type SystemName,
  type ToWorker,
} from "./queue-system.js";

const SIDES: Record<SystemName, QueueWorkerSide> = {
  regent: regentWorkerSide,
  "graphile-worker": graphileWorkerSide,
  "pg-boss": pgBossWorkerSide,
  bullmq: bullmqWorkerSide,
};

/** A stop that hangs is cut short: the parent kills this process 10 s after asking anyway. */
const STOP_TIMEOUT_MS = 8_000;

const send = (message: FromWorker) => {
  if (process.connected) process.send!(message);
};

if (!process.send) {
  process.stderr.write("queue-worker: run by bench/dist/queue.js (with an IPC channel), not on its own\n");
  process.exit(2);
}

// The parent is gone (killed, crashed): nothing will stop us, so go.
process.on("disconnect", () => process.exit(0));
// A system's loop that fails (a connection refused…) ends the worker, saying why.
const fatal = (error: unknown) => {
  const message: FromWorker = { type: "error", message: (error as Error)?.stack ?? String(error) };
  // Exit once the message is out (IPC sends are asynchronous), or soon anyway.
  setTimeout(() => process.exit(1), 1_000).unref();
  if (process.connected) process.send!(message, () => process.exit(1));
  else process.exit(1);
};
process.on("unhandledRejection", fatal);
process.on("uncaughtException", fatal);

let worker: PreparedWorker | undefined;
let handled = 0;
let firstAt = 0;
let lastAt = 0;
let reported = -1;
let progressTimer: NodeJS.Timeout | undefined;

const report = () => {
  if (handled === reported) return;
  reported = handled;
  send({ type: "progress", handled, firstAt, lastAt });
};

async function init(message: Extract<ToWorker, { type: "init" }>): Promise<void> {
  const side = SIDES[message.system];
  const onJob =
    message.mode === "latency"
      ? (job: JobPayload) => send({ type: "started", i: job.i, at: epochNow() })
      : () => {
          const at = epochNow();
          if (handled === 0) firstAt = at;
          lastAt = at;
          handled++;
        };
  worker = await side.prepare(message.config, onJob);
  send({ type: "ready" });
}

async function stop(): Promise<void> {
  if (progressTimer) clearInterval(progressTimer);
  if (worker) {
    await Promise.race([worker.stop(), new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref())]);
  }
  report();
  setTimeout(() => process.exit(0), 1_000).unref();
  if (process.connected) process.send!({ type: "stopped" } satisfies FromWorker, () => process.exit(0));
  else process.exit(0);
}

process.on("message", (message: ToWorker) => {
  const fail = fatal;
  switch (message.type) {
    case "init":
      init(message).catch(fail);
      break;
    case "go":
      if (!worker) return fail(new Error("go before init"));
      progressTimer = setInterval(report, PROGRESS_MS);
      worker.start().catch(fail);
      break;
    case "stop":
      stop().catch(fail);
      break;
    default:
      message satisfies never;
  }
});
