import { FINAL_STATES } from "@regent/core";
import type { RegentDatabase } from "../db/database.js";
import { STARTED_TASK_STATES } from "../db/migrations/0009-task-run-zombies.js";

/** A run Lazarus judges lost, and why. */
export interface LostRun {
  readonly id: string;
  readonly reason: string;
}

/** A task run left started in a flow run that has ended: no executor will end it. */
export interface ZombieTaskRun {
  readonly id: string;
  readonly version: number;
  readonly flowRunId: string;
  readonly flowRunState: string;
  readonly flowRunEnded: string;
}

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

/**
 * The reads of Lazarus: runs in an executor's hands that no longer show signs of life. A Running (or
 * Retrying, Cancelling) run whose executor's last heartbeat — or its start, before the first — is older
 * than the heartbeat timeout, and so is a Submitted one whose executor has sent one; a Submitted run
 * no executor has spoken for yet, when not started within the submission timeout or when its agent has
 * not been seen for the agent timeout (a slow start of a live agent is not a death). Silence is judged
 * only after `hearingSince` (when the server could last hear again) is as old as the timeout at stake.
 */
export class LostRunStore {
  constructor(private readonly database: Pick<RegentDatabase, "db" | "dialect">) {}

  async lost(
    now: Date,
    hearingSince: Date,
    settings: { heartbeatTimeoutMs: number; submissionTimeoutMs: number; agentTimeoutMs: number },
    limit: number,
  ): Promise<LostRun[]> {
    const db = this.database.db;
    const before = (ms: number) => new Date(now.getTime() - ms).toISOString();
    // Silence counts only once the server has been able to hear for as long as the timeout.
    const heard = (ms: number) => now.getTime() - hearingSince.getTime() >= ms;
    const silent = !heard(settings.heartbeatTimeoutMs)
      ? []
      : await db
          .selectFrom("flow_run")
          .select((eb) => ["id", eb.fn.coalesce("heartbeat", "start_time", "state_timestamp").as("seen")])
          // A Submitted run whose executor has sent a heartbeat is in its hands (loading the flow, about to
          // report Running): its silence counts as much.
          .where((eb) =>
            eb.or([
              eb("state", "in", ["Running", "Retrying", "Cancelling"]),
              eb.and([eb("state", "=", "Submitted"), eb("heartbeat", "is not", null)]),
            ]),
          )
          .where(
            (eb) => eb.fn.coalesce("heartbeat", "start_time", "state_timestamp"),
            "<=",
            before(settings.heartbeatTimeoutMs),
          )
          .limit(limit)
          .execute();
    const unstarted = !heard(settings.agentTimeoutMs)
      ? []
      : await db
          .selectFrom("flow_run")
          .leftJoin("agent", "agent.id", "flow_run.agent_id")
          .select(["flow_run.id", "flow_run.state_timestamp", "agent.name", "agent.last_seen"])
          .where("flow_run.state", "=", "Submitted")
          .where("flow_run.heartbeat", "is", null)
          .where((eb) =>
            eb.or([
              eb("flow_run.state_timestamp", "<=", before(settings.submissionTimeoutMs)),
              eb.and([
                eb("flow_run.state_timestamp", "<=", before(settings.agentTimeoutMs)),
                eb.or([
                  eb("agent.last_seen", "is", null),
                  eb("agent.last_seen", "<=", before(settings.agentTimeoutMs)),
                ]),
              ]),
            ]),
          )
          .limit(limit)
          .execute();
    const iso = (t: unknown) => (t instanceof Date ? t.toISOString() : String(t));
    return [
      ...silent.map((r) => ({
        id: r.id,
        reason: `no heartbeat from its executor since ${iso(r.seen)} (heartbeat_timeout ${seconds(settings.heartbeatTimeoutMs)})`,
      })),
      ...unstarted.map((r) => {
        const agentGone =
          r.last_seen === null || Date.parse(iso(r.last_seen)) <= now.getTime() - settings.agentTimeoutMs;
        return {
          id: r.id,
          reason: agentGone
            ? `its agent ${r.name ?? "(gone)"} was last seen ${r.last_seen === null ? "never" : iso(r.last_seen)} and never started it (agent_timeout ${seconds(settings.agentTimeoutMs)})`
            : `Submitted at ${iso(r.state_timestamp)} and not started within submission_timeout (${seconds(settings.submissionTimeoutMs)})`,
        };
      }),
    ];
  }

  /**
   * The zombie killer's read: task runs still started (Queued, Running, Retrying, Paused) in flow runs that
   * ended at least `graceMs` ago — ended by a user's mark, or with an executor that lost them. Read
   * through the `task_run_started` index (its own list of states), so it costs as much as the work under way.
   */
  async zombies(now: Date, graceMs: number, limit: number): Promise<ZombieTaskRun[]> {
    const rows = await this.database.db
      .selectFrom("task_run")
      .innerJoin("flow_run", "flow_run.id", "task_run.flow_run_id")
      .select([
        "task_run.id",
        "task_run.state_version",
        "task_run.flow_run_id",
        "flow_run.state as flow_run_state",
        "flow_run.state_timestamp",
      ])
      .where("task_run.state", "in", [...STARTED_TASK_STATES])
      .where("flow_run.state", "in", [...FINAL_STATES])
      .where("flow_run.state_timestamp", "<=", new Date(now.getTime() - graceMs).toISOString())
      .limit(limit)
      .execute();
    const iso = (t: unknown) => (t instanceof Date ? t.toISOString() : String(t));
    return rows.map((r) => ({
      id: r.id,
      version: r.state_version,
      flowRunId: r.flow_run_id,
      flowRunState: r.flow_run_state,
      flowRunEnded: iso(r.state_timestamp),
    }));
  }
}
