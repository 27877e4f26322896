import { createHmac } from "node:crypto";
import type { RegentDatabase } from "../db/database.js";
import type { NotificationKind, NotificationPayload, NotificationStore } from "../store/notifications.js";
import type { Clock } from "../store/store.js";
import { asLeader } from "./leadership.js";

/** Attempts per notification before it is given up (Failed, with the last error). */
export const MAX_ATTEMPTS = 8;
/** Notifications delivered per loop at most. */
const PER_LOOP = 50;
/** A delivery that has not answered in this long has failed (and is retried). */
const TIMEOUT_MS = 10_000;

export interface SmtpSettings {
  /** `smtp://user:password@host:port` (or `smtps://…`). */
  readonly url: string;
  /** The sender address. */
  readonly from: string;
}

export interface NotifierOptions {
  readonly database: Pick<RegentDatabase, "db" | "dialect">;
  readonly notifications: NotificationStore;
  readonly clock?: Clock;
  readonly smtp?: SmtpSettings | undefined;
  readonly version?: string | undefined;
}

/** Delay before attempt `n + 1` after `n` failed ones: 1 s, 2 s, 4 s, … up to 5 minutes. */
export const retryDelayMs = (attempts: number): number => Math.min(1_000 * 2 ** (attempts - 1), 300_000);

/**
 * The `X-Regent-Signature` header of a webhook: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
 * with the rule's secret. A receiver recomputes it, compares in constant time, and refuses old `t`s.
 */
export function signature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

/** One line a person reads: in Slack, and as an email's subject. */
export function summary(p: NotificationPayload): string {
  const message = p.state.message ? `: ${p.state.message}` : "";
  return `${p.flow_run.flow} run ${p.flow_run.name} (project ${p.flow_run.project}) is ${p.state.type}${message}`;
}

/**
 * Delivers the outbox: webhooks (JSON, signed when the rule has a secret), Slack incoming webhooks and
 * email. A failed delivery (no answer, a non-2xx status, an SMTP error) is retried with backoff, up to
 * MAX_ATTEMPTS; the outbox row keeps the count and the last error. One replica at a time.
 */
export class Notifier {
  private readonly clock: Clock;
  private mailer: Promise<{ sendMail(m: Record<string, unknown>): Promise<unknown> }> | undefined;

  constructor(private readonly options: NotifierOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async loop(): Promise<{ sent: number; failed: number } | undefined> {
    return asLeader(this.options.database, "notifier", async () => {
      const due = await this.options.notifications.due(this.clock(), PER_LOOP);
      let sent = 0;
      let failed = 0;
      await Promise.all(
        due.map(async (n) => {
          try {
            await this.deliver(n.kind, n.target, n.secret, n.payload, n.id);
            await this.options.notifications.recordAttempt(n.id, { sent: true });
            sent++;
          } catch (error) {
            failed++;
            const attempts = n.attempts + 1;
            await this.options.notifications.recordAttempt(n.id, {
              error: (error as Error).message ?? String(error),
              retryAt:
                attempts >= MAX_ATTEMPTS ? null : new Date(this.clock().getTime() + retryDelayMs(attempts)),
            });
          }
        }),
      );
      return { sent, failed };
    });
  }

  private async deliver(
    kind: NotificationKind,
    target: string,
    secret: string | null,
    payload: NotificationPayload,
    deliveryId: string,
  ): Promise<void> {
    if (kind === "email") return this.email(target, payload);
    const body = JSON.stringify(kind === "slack" ? { text: summary(payload) } : payload);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": `regent/${this.options.version ?? "dev"}`,
      "x-regent-delivery": deliveryId,
    };
    if (secret && kind === "webhook")
      headers["x-regent-signature"] = signature(secret, body, Math.floor(this.clock().getTime() / 1000));
    const res = await fetch(target, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`${target} answered ${res.status} ${res.statusText}`);
  }

  private async email(to: string, payload: NotificationPayload): Promise<void> {
    const smtp = this.options.smtp;
    if (!smtp) throw new Error("this server has no SMTP settings ([server] smtp_url)");
    // nodemailer is loaded on first use: a server that sends no email does not hold it.
    this.mailer ??= import("nodemailer").then((m) => m.default.createTransport(smtp.url));
    const mailer = await this.mailer;
    await mailer.sendMail({
      from: smtp.from,
      to,
      subject: `[Regent] ${summary(payload)}`,
      text: `${summary(payload)}\n\nflow run ${payload.flow_run.id}\nstate ${payload.state.type} at ${payload.state.timestamp}\nparameters ${JSON.stringify(payload.flow_run.parameters)}\n`,
    });
  }
}
