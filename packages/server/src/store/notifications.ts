import {
  ALL_STATE_TYPES,
  InvalidUsageError,
  NotFoundError,
  newId,
  RegentError,
  type RunStateType,
} from "@regent/core";
import type { Transaction } from "kysely";
import { decodeRow, encodeRow } from "../db/codec.js";
import type { Database, RegentDatabase } from "../db/database.js";
import type { Row } from "../db/tables.js";
import type { StateEvent } from "../events.js";
import { requireProject } from "./projects.js";
import type { Clock } from "./store.js";

type Tx = Transaction<Database>;

export const NOTIFICATION_KINDS = ["webhook", "slack", "email"] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface NotificationRuleInput {
  readonly name: string;
  readonly projectId?: string | null;
  readonly flowGroupId?: string | null;
  readonly states: readonly string[];
  readonly kind: string;
  /** The URL (webhook, slack) or the address (email). */
  readonly target: string;
  /** Webhooks: the key their payloads are signed with (HMAC-SHA256). */
  readonly secret?: string | null;
}

/** What a notification tells: the run, its flow and project, and the state it entered. */
export interface NotificationPayload {
  readonly event: "flow_run.state";
  readonly rule: { readonly id: string; readonly name: string };
  readonly flow_run: {
    readonly id: string;
    readonly name: string;
    readonly flow: string;
    readonly flow_id: string;
    readonly project: string;
    readonly labels: readonly string[];
    readonly parameters: Record<string, unknown>;
    readonly scheduled_start_time: string;
  };
  readonly state: { readonly type: string; readonly message: string | null; readonly timestamp: string };
}

/** Rules are read at most this often by a replica (a change made elsewhere applies within this). */
const RULES_TTL_MS = 5_000;

interface ActiveRule {
  readonly id: string;
  readonly name: string;
  readonly projectId: string | null;
  readonly flowGroupId: string | null;
  readonly states: ReadonlySet<string>;
}

/** Notification rules, and the outbox their notifications wait in until delivered. */
export class NotificationStore {
  private cached: { at: number; rules: ActiveRule[] } | undefined;

  constructor(
    private readonly database: Pick<RegentDatabase, "db" | "dialect">,
    private readonly clock: Clock,
    /** Whether the server can send email (SMTP settings given). */
    private readonly canEmail: () => boolean = () => false,
  ) {}

  private get db() {
    return this.database.db;
  }

  async createRule(input: NotificationRuleInput): Promise<Row<"notification_rule">> {
    const name = input.name.trim();
    if (!name) throw new InvalidUsageError("a notification rule needs a name");
    if (!(NOTIFICATION_KINDS as readonly string[]).includes(input.kind))
      throw new InvalidUsageError(`a notification's kind is webhook, slack or email, not "${input.kind}"`);
    const kind = input.kind as NotificationKind;
    if (input.states.length === 0)
      throw new InvalidUsageError(
        `a notification rule needs the states it is for, e.g. ["Failed", "TimedOut"]`,
      );
    const unknown = input.states.filter((s) => !ALL_STATE_TYPES.includes(s as RunStateType));
    if (unknown.length > 0)
      throw new InvalidUsageError(
        `unknown states ${unknown.join(", ")}: states are ${ALL_STATE_TYPES.join(", ")}`,
      );
    if (kind === "email") {
      if (!/^[^@\s]+@[^@\s]+$/.test(input.target))
        throw new InvalidUsageError(`an email notification's target is an address, not "${input.target}"`);
      if (!this.canEmail())
        throw new RegentError(
          "INVALID_CONFIG",
          "this server has no SMTP settings to send email with: set [server] smtp_url (and smtp_from) and restart it",
        );
    } else {
      let url: URL | undefined;
      try {
        url = new URL(input.target);
      } catch {
        url = undefined;
      }
      if (!url || !/^https?:$/.test(url.protocol))
        throw new InvalidUsageError(
          `a ${kind} notification's target is an http(s) URL, not "${input.target}"`,
        );
    }
    if (input.secret && kind !== "webhook")
      throw new InvalidUsageError("only webhook payloads are signed: a secret goes with kind webhook");
    const id = newId();
    const now = this.clock().toISOString();
    const row = await this.db.transaction().execute(async (tx) => {
      if (input.projectId) await requireProject(tx, input.projectId);
      const inserted = await tx
        .insertInto("notification_rule")
        .values(
          encodeRow("notification_rule", this.database.dialect, {
            id,
            name,
            project_id: input.projectId ?? null,
            flow_group_id: input.flowGroupId ?? null,
            states: [...new Set(input.states)],
            kind,
            target: input.target,
            active: true,
            created: now,
          }) as never,
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      if (input.secret)
        await tx.insertInto("notification_secret").values({ rule_id: id, secret: input.secret }).execute();
      return decodeRow("notification_rule", inserted);
    });
    this.cached = undefined;
    return row;
  }

  async deleteRule(id: string): Promise<void> {
    const result = await this.db.deleteFrom("notification_rule").where("id", "=", id).executeTakeFirst();
    this.cached = undefined;
    if (Number(result.numDeletedRows) === 0)
      throw new NotFoundError("NOTIFICATION_RULE_NOT_FOUND", `no notification rule with id ${id}`, { id });
  }

  private async activeRules(tx: Tx): Promise<ActiveRule[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < RULES_TTL_MS) return this.cached.rules;
    const rows = await tx
      .selectFrom("notification_rule")
      .selectAll()
      .where("active", "=", (this.database.dialect === "postgres" ? true : 1) as never)
      .execute();
    const rules = rows.map((r) => {
      const rule = decodeRow("notification_rule", r);
      return {
        id: rule.id as string,
        name: rule.name as string,
        projectId: rule.project_id,
        flowGroupId: rule.flow_group_id,
        states: new Set(rule.states as string[]),
      };
    });
    this.cached = { at: now, rules };
    return rules;
  }

  /**
   * Puts in the outbox, in the transaction that applied them, a notification for each state a flow run
   * entered that an active rule is for. A state notified once is not notified again (a replayed write).
   */
  async enqueue(tx: Tx, events: readonly StateEvent[], runs: ReadonlyMap<string, Record<string, unknown>>) {
    const rules = await this.activeRules(tx);
    if (rules.length === 0) return;
    const wanted = events.filter((e) => rules.some((r) => r.states.has(e.state)));
    if (wanted.length === 0) return;
    const flowIds = [...new Set(wanted.map((e) => runs.get(e.flow_run_id)?.flow_id as string))];
    const flows = await tx
      .selectFrom("flow")
      .innerJoin("project", "project.id", "flow.project_id")
      .select(["flow.id", "flow.name", "flow.project_id", "flow.version_group_id", "project.name as project"])
      .where("flow.id", "in", flowIds)
      .execute();
    const flowById = new Map(flows.map((f) => [f.id, f]));
    const now = this.clock().toISOString();
    const rows: Record<string, unknown>[] = [];
    for (const event of wanted) {
      const run = runs.get(event.flow_run_id);
      const flow = run && flowById.get(run.flow_id as string);
      if (!run || !flow) continue;
      for (const rule of rules) {
        if (!rule.states.has(event.state)) continue;
        if (rule.projectId && rule.projectId !== flow.project_id) continue;
        if (rule.flowGroupId && rule.flowGroupId !== flow.version_group_id) continue;
        const payload: NotificationPayload = {
          event: "flow_run.state",
          rule: { id: rule.id, name: rule.name },
          flow_run: {
            id: event.flow_run_id,
            name: run.name as string,
            flow: flow.name,
            flow_id: flow.id,
            project: flow.project,
            labels: run.labels as string[],
            parameters: run.parameters as Record<string, unknown>,
            scheduled_start_time: run.scheduled_start_time as string,
          },
          state: { type: event.state, message: event.message, timestamp: event.timestamp },
        };
        rows.push(
          encodeRow("notification", this.database.dialect, {
            id: newId(),
            rule_id: rule.id,
            flow_run_id: event.flow_run_id,
            state: event.state,
            state_version: event.version,
            payload,
            status: "pending",
            attempts: 0,
            next_attempt: now,
            created: now,
          }),
        );
      }
    }
    if (rows.length === 0) return;
    await tx
      .insertInto("notification")
      .values(rows as never)
      .onConflict((oc) => oc.columns(["rule_id", "flow_run_id", "state_version"]).doNothing())
      .execute();
  }

  /** Pending notifications due for an attempt, oldest first, with their rule's kind, target and secret. */
  async due(now: Date, limit: number) {
    const rows = await this.db
      .selectFrom("notification")
      .innerJoin("notification_rule", "notification_rule.id", "notification.rule_id")
      .leftJoin("notification_secret", "notification_secret.rule_id", "notification.rule_id")
      .select([
        "notification.id",
        "notification.payload",
        "notification.attempts",
        "notification_rule.kind",
        "notification_rule.target",
        "notification_secret.secret",
      ])
      .where("notification.status", "=", "pending")
      .where("notification.next_attempt", "<=", now.toISOString())
      .orderBy("notification.next_attempt")
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      payload: decodeRow("notification", { payload: r.payload }).payload as NotificationPayload,
      attempts: r.attempts,
      kind: r.kind as NotificationKind,
      target: r.target,
      secret: r.secret ?? null,
    }));
  }

  /** Records an attempt: sent, to be retried at `retryAt`, or (retryAt null) given up. */
  async recordAttempt(id: string, outcome: { sent: true } | { error: string; retryAt: Date | null }) {
    const now = this.clock().toISOString();
    const values =
      "sent" in outcome
        ? { status: "sent", sent: now, last_error: null }
        : {
            status: outcome.retryAt ? "pending" : "failed",
            last_error: outcome.error.slice(0, 2_000),
            ...(outcome.retryAt ? { next_attempt: outcome.retryAt.toISOString() } : {}),
          };
    await this.db
      .updateTable("notification")
      .set(
        (eb) =>
          ({
            ...encodeRow("notification", this.database.dialect, values),
            attempts: eb("attempts", "+", 1),
          }) as never,
      )
      .where("id", "=", id)
      .execute();
  }
}
