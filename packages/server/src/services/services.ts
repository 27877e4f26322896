import type { RegentDatabase } from "../db/database.js";
import type { ServerEvents } from "../events.js";
import { LateRunStore } from "../store/late-runs.js";
import type { Clock, Store } from "../store/store.js";
import { LateRuns } from "./late-runs.js";
import { Lazarus } from "./lazarus.js";
import { Notifier, type SmtpSettings } from "./notifier.js";
import { PausedRuns } from "./paused-runs.js";
import { Retention } from "./retention.js";
import { Scheduler, type SchedulerLoop } from "./scheduler.js";
import { Ticker } from "./ticker.js";

export interface ServicesOptions {
  /** Run the loops on timers (default true); false leaves them to be called (tests step them). */
  readonly timers?: boolean;
  /** How often the scheduler looks for due schedules (5 s); a registered or resumed schedule wakes it. */
  readonly schedulerEveryMs?: number;
  /** How often late runs are judged (5 s). */
  readonly lateRunsEveryMs?: number;
  /** A Scheduled run unclaimed this long after its start time is late (30 s). */
  readonly lateAfterMs?: number;
  /** An agent not seen for this long is not live (60 s). */
  readonly agentTimeoutMs?: number;
  /** How often agents are told of runs whose start time has come, or that wait on a limit (1 s). */
  readonly dueRunsEveryMs?: number;
  /** Finished runs older than this are deleted with their task runs and logs (default: kept). */
  readonly retainRunsMs?: number | undefined;
  /** Log lines older than this are deleted (default: kept). */
  readonly retainLogsMs?: number | undefined;
  /** How often retention runs when set (1 min). */
  readonly retentionEveryMs?: number;
  /** Where email notifications are sent through (none: email rules are refused). */
  readonly smtp?: SmtpSettings | undefined;
  /** How often the notification outbox is delivered (1 s). */
  readonly notifierEveryMs?: number;
  /** How often paused runs past their pause's timeout are failed (5 s). */
  readonly pausedRunsEveryMs?: number;
  /** A Running run without a heartbeat from its executor for this long is lost (90 s). */
  readonly heartbeatTimeoutMs?: number;
  /** A Submitted run its agent has not started within this long is lost (10 min). */
  readonly submissionTimeoutMs?: number;
  /** Lazarus restarts of a lost run before it fails, unless its flow says (3). */
  readonly maxRestarts?: number;
  /** How often Lazarus looks for lost runs (a tenth of the heartbeat timeout, 1–10 s). */
  readonly lazarusEveryMs?: number;
}

/** Lazarus's settings with their defaults: the store's mutations and the service read the same. */
export function lazarusSettings(options: ServicesOptions | false | undefined) {
  const o = options || {};
  const heartbeatTimeoutMs = o.heartbeatTimeoutMs ?? 90_000;
  return {
    heartbeatTimeoutMs,
    submissionTimeoutMs: o.submissionTimeoutMs ?? 600_000,
    agentTimeoutMs: o.agentTimeoutMs ?? 60_000,
    maxRestarts: o.maxRestarts ?? 3,
    everyMs: o.lazarusEveryMs ?? Math.min(10_000, Math.max(1_000, Math.round(heartbeatTimeoutMs / 10))),
  };
}
export type LazarusSettings = ReturnType<typeof lazarusSettings>;

export interface Services {
  readonly scheduler: Scheduler;
  readonly lateRuns: LateRuns;
  readonly retention: Retention;
  readonly notifier: Notifier;
  readonly pausedRuns: PausedRuns;
  readonly lazarus: Lazarus;
  /** The last scheduler loop (for /metrics). */
  readonly lastSchedulerLoop: () => SchedulerLoop | undefined;
  stop(): Promise<void>;
}

/**
 * The server's background services (DESIGN §5): the scheduler, late-run marking, notification delivery,
 * failing paused runs whose pause timed out, Lazarus (lost runs rescheduled), and retention (one replica at a time, by advisory lock), and waking agents as runs fall due or may
 * take a freed concurrency slot (every replica: each wakes the agents subscribed to it).
 */
export function startServices(
  database: RegentDatabase,
  store: Store,
  events: ServerEvents,
  options: ServicesOptions & {
    clock?: Clock | undefined;
    log: (line: string) => void;
    version?: string | undefined;
  },
): Services {
  const clock = options.clock ?? (() => new Date());
  const scheduler = new Scheduler({ database, store, clock, events, log: options.log });
  const lateRuns = new LateRuns({
    database,
    store,
    clock,
    ...(options.lateAfterMs === undefined ? {} : { lateAfterMs: options.lateAfterMs }),
    ...(options.agentTimeoutMs === undefined ? {} : { agentTimeoutMs: options.agentTimeoutMs }),
  });
  const retention = new Retention({
    database,
    clock,
    runsMs: options.retainRunsMs,
    logsMs: options.retainLogsMs,
  });
  const notifier = new Notifier({
    database,
    notifications: store.notifications,
    clock,
    smtp: options.smtp,
    version: options.version,
  });
  const pausedRuns = new PausedRuns(store.runControl, clock);
  const lazarusOptions = lazarusSettings(options);
  const lazarus = new Lazarus({ database, store, clock, settings: lazarusOptions, log: options.log });
  let last: SchedulerLoop | undefined;
  const dueRuns = new LateRunStore(database);
  let dueFrom = clock();
  const tickers = [
    new Ticker({
      name: "scheduler",
      everyMs: options.schedulerEveryMs ?? 5_000,
      log: options.log,
      tick: async () => {
        last = await scheduler.loop();
      },
    }),
    new Ticker({
      name: "late runs",
      everyMs: options.lateRunsEveryMs ?? 5_000,
      log: options.log,
      tick: async () => void (await lateRuns.loop()),
    }),
    new Ticker({
      name: "due runs",
      everyMs: options.dueRunsEveryMs ?? 1_000,
      log: options.log,
      tick: async () => {
        const to = clock();
        // Runs whose start time came, and runs waiting on a concurrency limit (a slot may have freed):
        // agents that could take them claim now rather than at their next poll.
        const runs = [...(await dueRuns.fallingDue(dueFrom, to)), ...(await dueRuns.queuedByLabels(100))];
        for (const run of runs) events.publish("claimable", { flow_run_id: run.id, labels: run.labels });
        dueFrom = to;
      },
    }),
    new Ticker({
      name: "notifications",
      everyMs: options.notifierEveryMs ?? 1_000,
      log: options.log,
      tick: async () => void (await notifier.loop()),
    }),
    new Ticker({
      name: "paused runs",
      everyMs: options.pausedRunsEveryMs ?? 5_000,
      log: options.log,
      tick: async () => void (await pausedRuns.loop()),
    }),
    new Ticker({
      name: "lazarus",
      everyMs: lazarusOptions.everyMs,
      log: options.log,
      tick: async () => void (await lazarus.loop()),
    }),
  ];
  if (retention.enabled)
    tickers.push(
      new Ticker({
        name: "retention",
        everyMs: options.retentionEveryMs ?? 60_000,
        log: options.log,
        tick: async () => void (await retention.loop()),
      }),
    );
  const [schedulerTicker] = tickers;
  let unsubscribe: (() => void) | undefined;
  if (options.timers !== false) {
    for (const t of tickers) t.start();
    const iterator = events.subscribe("schedules:changed");
    let open = true;
    void (async () => {
      for await (const _ of iterator) if (open) schedulerTicker!.wake();
    })();
    unsubscribe = () => {
      open = false;
      void iterator.return?.();
    };
  }
  return {
    scheduler,
    lateRuns,
    retention,
    notifier,
    pausedRuns,
    lazarus,
    lastSchedulerLoop: () => last,
    async stop() {
      unsubscribe?.();
      retention.stop();
      await Promise.all(tickers.map((t) => t.stop()));
    },
  };
}
