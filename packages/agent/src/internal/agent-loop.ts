import { randomUUID } from "node:crypto";
import { RegentClient } from "@regent/client";
import { errorCodeOf, RegentError, serializeError } from "@regent/core";
import {
  AgentHeartbeat,
  CancellingRuns,
  ClaimableFlowRuns,
  ClaimFlowRuns,
  RegisterAgent,
  ReleaseFlowRuns,
  ReportInfrastructureFailure,
  RunStateOf,
  SetFlowRunState,
  WriteRunLogs,
} from "./documents.js";
import type { ClaimedRun, Launched, Launcher, LaunchOutcome, OutputLine } from "./launcher.js";

export interface AgentLoopOptions {
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly name: string;
  readonly labels: readonly string[];
  readonly acceptUnlabeled: boolean;
  readonly maxConcurrent: number;
  readonly pollIntervalMs: number;
  readonly heartbeatMs: number;
  readonly stopTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** After the stop grace period, SIGTERM; this much later, SIGKILL. */
const KILL_AFTER_MS = 5_000;
/** How long `start()` waits for the subscription before it relies on polling alone. */
const SUBSCRIBE_WAIT_MS = 5_000;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 30_000;
const REPORT_ATTEMPTS = 4;

interface ActiveRun {
  readonly run: ClaimedRun;
  readonly launched: Launched;
  /** Set when stop() had to end it. */
  stoppedByAgent: boolean;
  /** Set when it was ended because it did not stop once cancelled. */
  stoppedCancelled?: boolean;
}

/**
 * The loop every agent kind shares (DESIGN §6): register, heartbeat, wake on the `claimable_flow_runs`
 * subscription or the poll timer, claim as many runs as there are free slots, launch each through the
 * launcher, watch it, and report an infrastructure failure when it ended without a final state.
 *
 * Only runs the server handed to this agent in a `claim_flow_runs` answer are ever launched; the claim is
 * atomic on the server, so two agents never launch the same run.
 */
export class AgentLoop {
  private readonly client: RegentClient;
  private agentId: string | undefined;
  private readonly active = new Map<string, ActiveRun>();
  /** Runs launched here whose outcome is being reported: still held, though no longer running. */
  private readonly reporting = new Set<string>();
  /**
   * A claim went unanswered: the server may have handed runs to this agent that it never heard of.
   * Before claiming again it gives back every Submitted run it does not hold.
   */
  private claimUnanswered = false;
  /** Watchers and reports in flight; stop() waits for them. */
  private readonly pending = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private wakeWanted = false;
  private pumping: Promise<void> | undefined;
  private subscription: Promise<void> | undefined;
  private heartbeatBusy = false;
  private lastHeartbeatError: string | undefined;
  private lastClaimError: string | undefined;
  /** Why the launcher could not take runs at the last claim, while that lasts. */
  private launcherDown: string | undefined;

  constructor(
    private readonly options: AgentLoopOptions,
    private readonly launcher: Launcher,
  ) {
    this.client = new RegentClient({ apiUrl: options.apiUrl, apiKey: options.apiKey });
  }

  get id(): string {
    if (!this.agentId) throw new RegentError("AGENT_NOT_FOUND", "the agent has not registered yet");
    return this.agentId;
  }

  /** Registers, starts heartbeats, polling and the subscription, and makes the first claim. */
  async start(): Promise<void> {
    const { options } = this;
    await this.register();
    options.log(
      `agent ${options.name} registered as ${this.id} (type ${this.launcher.type}, labels: ${
        options.labels.length ? options.labels.join(", ") : "none"
      }${options.acceptUnlabeled ? ", takes unlabeled runs" : ""}; up to ${options.maxConcurrent} runs at a time)`,
    );
    this.timers.push(setInterval(() => this.track(this.heartbeat()), options.heartbeatMs));
    this.timers.push(setInterval(() => this.wake(), options.pollIntervalMs));
    let firstAttempt: (opened: boolean) => void = () => {};
    const attempted = new Promise<boolean>((resolve) => {
      firstAttempt = resolve;
    });
    this.subscription = this.subscribeLoop(firstAttempt);
    let timer: NodeJS.Timeout | undefined;
    const opened = await Promise.race([
      attempted,
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), SUBSCRIBE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    // Once open, the subscription made the first claim (it claims on every connect).
    if (!opened) this.wake();
  }

  /** Stops waking and claiming, waits for (or ends) running launches, and reports their outcomes. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async register(): Promise<void> {
    const { register_agent } = await this.client.request(RegisterAgent, {
      id: this.agentId ?? null,
      name: this.options.name,
      type: this.launcher.type,
      labels: [...this.options.labels],
      acceptUnlabeled: this.options.acceptUnlabeled,
    });
    this.agentId = register_agent.id;
  }

  /** The server lost this agent (its database was reset or the record removed): register it again. */
  private async reregister(error: unknown): Promise<void> {
    this.options.log(`agent ${this.options.name}: ${(error as Error).message}; registering again`);
    try {
      await this.register();
    } catch (again) {
      this.options.log(`agent ${this.options.name}: registering again failed: ${(again as Error).message}`);
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatBusy || this.stopping) return;
    this.heartbeatBusy = true;
    try {
      await this.client.request(AgentHeartbeat, { id: this.id });
      await this.endStuckCancellations();
      if (this.lastHeartbeatError)
        this.options.log(`agent ${this.options.name}: heartbeats reach the server again`);
      this.lastHeartbeatError = undefined;
    } catch (error) {
      if (errorCodeOf(error, "API_ERROR") === "AGENT_NOT_FOUND") {
        await this.reregister(error);
      } else if (this.lastHeartbeatError !== (error as Error).message) {
        this.lastHeartbeatError = (error as Error).message;
        this.options.log(`agent ${this.options.name}: heartbeat failed: ${this.lastHeartbeatError}`);
      }
    } finally {
      this.heartbeatBusy = false;
    }
  }

  /**
   * Runs cancelled by a user stop on their own (their executor hears of it); one still going
   * `stopTimeoutMs` after it was cancelled is stopped here — SIGTERM, then SIGKILL — and the server then
   * ends it Cancelled.
   */
  private async endStuckCancellations(): Promise<void> {
    if (this.active.size === 0) return;
    const { flow_run: cancelling } = await this.client.request(CancellingRuns, {
      ids: [...this.active.keys()],
    });
    for (const { id, state_timestamp } of cancelling) {
      const entry = this.active.get(id);
      if (!entry || entry.stoppedCancelled) continue;
      if (Date.now() - Date.parse(state_timestamp) < this.options.stopTimeoutMs) continue;
      entry.stoppedCancelled = true;
      this.options.log(
        `agent ${this.options.name}: flow run ${entry.run.name} (${id}) is still going ${this.options.stopTimeoutMs / 1000} s after it was cancelled; stopping it (SIGTERM)`,
      );
      entry.launched.stop(false);
      setTimeout(() => {
        if (this.active.has(id)) entry.launched.stop(true);
      }, KILL_AFTER_MS).unref();
    }
  }

  /**
   * Listens for runs that became claimable and claims on each event, and once on each (re)connect for
   * what happened while it was not listening. A dropped stream is reopened with backoff; polling covers
   * the gap.
   */
  private async subscribeLoop(firstAttempt: (opened: boolean) => void): Promise<void> {
    const { options } = this;
    let failures = 0;
    while (!this.stopping) {
      let opened = false;
      let reason: string;
      try {
        const events = this.client.subscribe(
          ClaimableFlowRuns,
          { labels: [...options.labels], acceptUnlabeled: options.acceptUnlabeled },
          {
            signal: this.abort.signal,
            onOpen: () => {
              opened = true;
              if (failures > 0) options.log(`agent ${options.name}: subscribed to claimable flow runs again`);
              failures = 0;
              firstAttempt(true);
              this.wake();
            },
          },
        );
        for await (const _event of events) this.wake();
        reason = "the server ended the stream";
      } catch (error) {
        reason = (error as Error).message;
      }
      if (this.stopping) return;
      firstAttempt(false);
      failures = opened ? 1 : failures + 1;
      const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** (failures - 1));
      const delay = Math.round(base * (0.8 + Math.random() * 0.4));
      options.log(
        `agent ${options.name}: the claimable_flow_runs subscription ${opened ? "dropped" : "failed"} (${reason}); reconnecting in ${(delay / 1000).toFixed(1)} s, polling every ${(options.pollIntervalMs / 1000).toFixed(1)} s meanwhile`,
      );
      await sleep(delay, this.abort.signal);
    }
  }

  /**
   * After a claim that went unanswered: gives back the runs the server handed this agent that it does not
   * hold (launched, or being reported on). No claim is in flight here, so none of those is one it is
   * about to launch. False when the server could not be asked (the next wake tries again).
   */
  private async releaseUnheld(): Promise<boolean> {
    const { log, name } = this.options;
    try {
      const { release_flow_runs } = await this.client.request(ReleaseFlowRuns, {
        id: this.id,
        holding: [...new Set([...this.active.keys(), ...this.reporting])],
      });
      this.claimUnanswered = false;
      for (const run of release_flow_runs.flow_runs)
        log(`agent ${name}: gave flow run ${run.name} (${run.id}) back: the answer to its claim was lost`);
      return true;
    } catch (error) {
      if (this.lastClaimError !== (error as Error).message) {
        this.lastClaimError = (error as Error).message;
        log(`agent ${name}: claiming flow runs failed: ${this.lastClaimError}`);
      }
      return false;
    }
  }

  /** Asks for a claim; claims already under way absorb it (one more round follows them). */
  private wake(): void {
    if (this.stopping) return;
    this.wakeWanted = true;
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async pump(): Promise<void> {
    while (this.wakeWanted && !this.stopping) {
      const free = this.options.maxConcurrent - this.active.size;
      // Full: the next launch that ends wakes the loop again.
      if (free <= 0) return;
      this.wakeWanted = false;
      if (this.claimUnanswered && !(await this.releaseUnheld())) return;
      if (!(await this.launcherReady())) return;
      let runs: ClaimedRun[];
      try {
        const { claim_flow_runs } = await this.client.request(ClaimFlowRuns, {
          id: this.id,
          limit: free,
          lastSchedule: this.launcher.wantsLastSchedule ?? false,
        });
        const tokens = new Map(claim_flow_runs.tokens.map((t) => [t.flow_run_id, t.token]));
        runs = claim_flow_runs.flow_runs.map((r) => ({
          id: r.id,
          name: r.name,
          version: r.version,
          restartCount: r.restart_count,
          flowId: r.flow_id,
          flowVersionGroupId: r.flow?.version_group_id ?? undefined,
          runConfig: r.run_config,
          flowRunConfig: r.flow?.run_config ?? null,
          flowStorage: r.flow?.storage ?? null,
          lastSchedule: (r.states?.[0]?.data ?? undefined) as Record<string, unknown> | undefined,
          token: tokens.get(r.id),
        }));
        if (this.lastClaimError) this.options.log(`agent ${this.options.name}: claiming works again`);
        this.lastClaimError = undefined;
      } catch (error) {
        if (errorCodeOf(error, "API_ERROR") === "AGENT_NOT_FOUND") {
          await this.reregister(error);
        } else {
          // The claim may have been taken with its answer lost: settled before the next one.
          this.claimUnanswered = true;
          if (this.lastClaimError !== (error as Error).message) {
            this.lastClaimError = (error as Error).message;
            this.options.log(`agent ${this.options.name}: claiming flow runs failed: ${this.lastClaimError}`);
          }
        }
        // No retry loop here: the next event, poll or ended launch tries again.
        return;
      }
      for (const run of runs) {
        if (this.stopping) this.track(this.release(run));
        else this.launch(run);
      }
      // A full answer: there may be more waiting.
      if (runs.length === free) this.wakeWanted = true;
    }
  }

  /** False (said once, until it changes) while the launcher cannot take runs; the next poll asks again. */
  private async launcherReady(): Promise<boolean> {
    const { log, name, pollIntervalMs } = this.options;
    const down = await this.launcher.unavailable?.();
    if (down === undefined) {
      if (this.launcherDown)
        log(`agent ${name}: ${this.launcher.type} is available again; claiming flow runs`);
      this.launcherDown = undefined;
      return true;
    }
    if (down !== this.launcherDown)
      log(
        `agent ${name}: not claiming flow runs: ${down}; trying again every ${(pollIntervalMs / 1000).toFixed(1)} s`,
      );
    this.launcherDown = down;
    return false;
  }

  private launch(run: ClaimedRun): void {
    const { log, name, maxConcurrent } = this.options;
    let launched: Launched;
    try {
      launched = this.launcher.launch(run);
    } catch (error) {
      // The run config cannot be launched here: a user fault, reported as such.
      this.track(
        this.refuseLaunch(
          run,
          `the flow run cannot be launched by a ${this.launcher.type} agent: ${(error as Error).message}`,
          {
            infrastructure: false,
            error: serializeError(error, "INVALID_CONFIG"),
          },
        ),
      );
      return;
    }
    const entry: ActiveRun = { run, launched, stoppedByAgent: false };
    this.active.set(run.id, entry);
    log(
      `agent ${name}: launched flow run ${run.name} (${run.id})${launched.ref ? `, ${launched.ref}` : ""}; ${this.active.size}/${maxConcurrent} running`,
    );
    this.track(
      launched.ended.then(async (outcome) => {
        this.active.delete(run.id);
        this.wake(); // a slot is free
        await this.afterEnd(entry, outcome);
      }),
    );
  }

  /** A launch ended: if its run did not reach a final state, the infrastructure failed it. */
  private async afterEnd(entry: ActiveRun, outcome: LaunchOutcome): Promise<void> {
    const { run } = entry;
    const noun = this.launcher.noun;
    if (outcome.kind === "not-started") {
      await this.reportLost(run, `the ${noun} could not be started: ${outcome.error.message}`, {
        exitCode: null,
        signal: null,
        error: serializeError(outcome.error, "INFRASTRUCTURE_FAILURE"),
      });
      return;
    }
    if (outcome.output?.length) await this.forwardOutput(run, outcome.output);
    const why = entry.stoppedCancelled
      ? ` (agent ${this.options.name} stopped it: it did not stop within ${this.options.stopTimeoutMs / 1000} s of being cancelled)`
      : entry.stoppedByAgent
        ? ` (agent ${this.options.name} was stopping and its ${this.options.stopTimeoutMs / 1000} s grace period ran out)`
        : "";
    await this.reportLost(
      run,
      `the ${noun} ${outcome.description} without reaching a final state${why}`,
      { exitCode: outcome.exitCode, signal: outcome.signal, ...outcome.data },
      outcome.description,
    );
  }

  /**
   * Copies what a launch printed into its run's logs when the run never started (still Submitted, in
   * this execution): its flow reported nothing, and this output is all that says why (an image without
   * `regent`, a crash before the flow loaded). Best effort: the failure is reported either way.
   */
  private async forwardOutput(run: ClaimedRun, output: readonly OutputLine[]): Promise<void> {
    const noun = this.launcher.noun;
    try {
      const { flow_run_by_pk: now } = await this.client.request(RunStateOf, { id: run.id });
      if (now?.state !== "Submitted" || now.restart_count !== run.restartCount) return;
      await this.client.request(WriteRunLogs, {
        logs: output.map((o) => ({
          flow_run_id: run.id,
          level: "error",
          message: `[${noun}] ${o.line}`,
          timestamp: o.at.toISOString(),
        })),
      });
    } catch (error) {
      this.options.log(
        `agent ${this.options.name}: could not copy the ${noun}'s output into flow run ${run.name}'s logs: ${(error as Error).message}`,
      );
    }
  }

  /**
   * A launch ended: the server judges its run (Lazarus) — nothing when the run is final, paused or was
   * started again since; otherwise it is rescheduled while it has restarts left, then Failed (Cancelled
   * when it was being cancelled). Retried while the server is unreachable; never dropped silently.
   */
  private async reportLost(
    run: ClaimedRun,
    message: string,
    data: Record<string, unknown>,
    exited?: string,
  ): Promise<void> {
    const { log, name } = this.options;
    await this.retrying(run, message, async () => {
      const { report_infrastructure_failure: verdict } = await this.client.request(
        ReportInfrastructureFailure,
        {
          id: run.id,
          execution: run.restartCount,
          message,
          data,
        },
      );
      const how = exited ? ` (the ${this.launcher.noun} ${exited})` : "";
      if (verdict.verdict === "unchanged")
        log(
          verdict.state === "Paused"
            ? `agent ${name}: flow run ${run.name} is Paused, waiting to be resumed${how}`
            : `agent ${name}: flow run ${run.name} ended ${verdict.state}${how}`,
        );
      else if (verdict.verdict === "superseded")
        log(`agent ${name}: flow run ${run.name} was started again since this launch${how}`);
      else log(`agent ${name}: flow run ${run.name} (${run.id}) ${verdict.state}: ${verdict.message}`);
    });
  }

  /**
   * A claimed run this agent cannot launch (its run config is not for this kind of agent): a user fault,
   * so it fails at once, with no Lazarus. Written at the claim's version: a run cancelled meanwhile stays so.
   */
  private async refuseLaunch(run: ClaimedRun, message: string, data: Record<string, unknown>): Promise<void> {
    const { log, name } = this.options;
    const writeId = randomUUID();
    await this.retrying(run, message, async () => {
      const { set_flow_run_states } = await this.client.request(SetFlowRunState, {
        runId: run.id,
        version: run.version,
        writeId,
        type: "Failed",
        message,
        data,
      });
      const result = set_flow_run_states.states[0];
      if (result?.status === "SUCCESS")
        log(`agent ${name}: flow run ${run.name} (${run.id}) Failed: ${message}`);
      else
        log(
          `agent ${name}: could not mark flow run ${run.name} (${run.id}) Failed (${message}): ${result?.code ?? "no result"} ${result?.message ?? ""}`.trimEnd(),
        );
    });
  }

  /** Runs a report, again with backoff while the server cannot answer; says so when it never could. */
  private async retrying(run: ClaimedRun, message: string, report: () => Promise<void>): Promise<void> {
    let lastError: unknown;
    this.reporting.add(run.id);
    try {
      for (let attempt = 1; attempt <= REPORT_ATTEMPTS; attempt++) {
        try {
          return await report();
        } catch (error) {
          lastError = error;
          if (errorCodeOf(error, "API_ERROR") === "FLOW_RUN_NOT_FOUND") return;
          if (attempt < REPORT_ATTEMPTS) await sleep(1_000 * 2 ** (attempt - 1));
        }
      }
    } finally {
      this.reporting.delete(run.id);
    }
    this.options.log(
      `agent ${this.options.name}: could not report on flow run ${run.name} (${run.id}) (${message}): ${
        (lastError as Error | undefined)?.message ?? "no answer"
      }`,
    );
  }

  /** A run claimed while stopping goes back to Scheduled for another agent. */
  private async release(run: ClaimedRun): Promise<void> {
    try {
      await this.client.request(SetFlowRunState, {
        runId: run.id,
        version: run.version,
        writeId: randomUUID(),
        type: "Scheduled",
        message: `agent ${this.options.name} stopped before launching it`,
        data: null,
      });
      this.options.log(`agent ${this.options.name}: gave flow run ${run.name} (${run.id}) back (stopping)`);
    } catch (error) {
      this.options.log(
        `agent ${this.options.name}: could not give flow run ${run.name} (${run.id}) back: ${(error as Error).message}`,
      );
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      this.options.log(`agent ${this.options.name}: ${(error as Error)?.stack ?? String(error)}`);
    });
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private async shutdown(): Promise<void> {
    const { log, name, stopTimeoutMs } = this.options;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.abort.abort();
    await this.pumping; // a claim under way gives its runs back
    await this.subscription;
    const closing = this.launcher.close?.();
    const running = [...this.active.values()];
    if (running.length > 0) {
      log(
        `agent ${name}: stopping; waiting up to ${stopTimeoutMs / 1000} s for ${running.length} running flow run${running.length === 1 ? "" : "s"}`,
      );
      const allEnded = Promise.all(running.map((r) => r.launched.ended));
      if (!(await settlesWithin(allEnded, stopTimeoutMs))) {
        const left = running.filter((r) => this.active.has(r.run.id));
        for (const r of left) {
          r.stoppedByAgent = true;
          log(`agent ${name}: stopping flow run ${r.run.name} (${r.run.id}) (SIGTERM)`);
          r.launched.stop(false);
        }
        if (!(await settlesWithin(allEnded, KILL_AFTER_MS))) {
          for (const r of left) if (this.active.has(r.run.id)) r.launched.stop(true);
        }
        await allEnded;
      }
    }
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    await closing;
    if (this.agentId) log(`agent ${name}: stopped`);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}
