import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { BACKENDS } from "@regent/testkit";
import { SMTPServer } from "smtp-server";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  MAX_NOTIFICATION_ATTEMPTS,
  type NotificationPayload,
  notificationRetryDelayMs,
} from "../src/index.js";
import { type Api, seedFlow, startApi } from "./helpers.js";

const codeOf = (r: { errors?: any[] }) => r.errors?.[0]?.extensions?.code;

/** A webhook receiver on loopback that answers with the statuses given, in turn, then 200. */
async function receiver(statuses: number[] = []) {
  const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      body += d;
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(statuses.shift() ?? 200);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** What a receiver does with X-Regent-Signature: recompute, compare in constant time. */
function verify(secret: string, header: string, body: string): boolean {
  const { t, v1 } = Object.fromEntries(header.split(",").map((kv) => kv.split("="))) as {
    t: string;
    v1: string;
  };
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

for (const backend of BACKENDS) {
  describe(`notifications on ${backend}`, () => {
    let api: Api;
    let now: Date;
    let smtp: SMTPServer;
    let smtpPort: number;
    const mails: string[] = [];
    beforeEach(async () => {
      now = new Date("2026-06-01T00:00:00.000Z");
      mails.length = 0;
      smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ["STARTTLS"],
        onData(stream, _session, callback) {
          let text = "";
          stream.setEncoding("utf8");
          stream.on("data", (d: string) => {
            text += d;
          });
          stream.on("end", () => {
            mails.push(text);
            callback();
          });
        },
      });
      await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", () => r()));
      smtpPort = (smtp.server.address() as AddressInfo).port;
      api = await startApi(backend, {
        clock: () => now,
        services: {
          timers: false,
          smtp: { url: `smtp://127.0.0.1:${smtpPort}`, from: "regent@example.test" },
        },
      });
    });
    afterEach(async () => {
      await api.close();
      await new Promise<void>((r) => smtp.close(() => r()));
    });
    const notifier = () => api.server.services!.notifier;
    const rule = (input: Record<string, unknown>) =>
      api.gql(
        `mutation($input: create_notification_rule_input!) { create_notification_rule(input: $input) { id } }`,
        { input },
      );
    const failRun = async (flowId: string, message: string) => {
      const run = await api.server.store.createFlowRun({ flowId, parameters: { name: "Ada" } });
      await api.server.store.setFlowRunStates([
        { runId: run.id as string, version: 1, state: { type: "Running" } },
        { runId: run.id as string, version: 2, state: { type: "Failed", message } },
      ]);
      return run.id as string;
    };

    test("a webhook gets a signed payload; a 500 is retried with backoff until it is taken", async () => {
      const hook = await receiver([500, 503]);
      try {
        const { flowId, projectId } = await seedFlow(api);
        const created = await rule({
          name: "failures",
          project_id: projectId,
          states: ["Failed", "TimedOut"],
          kind: "webhook",
          target: hook.url,
          secret: "s3cret",
        });
        expect(created.errors).toBeUndefined();
        const runId = await failRun(flowId, "the warehouse said no");
        expect(await notifier().loop()).toEqual({ sent: 0, failed: 1 });
        // Not due again until its backoff has passed.
        expect(await notifier().loop()).toEqual({ sent: 0, failed: 0 });
        now = new Date(now.getTime() + notificationRetryDelayMs(1));
        expect(await notifier().loop()).toEqual({ sent: 0, failed: 1 });
        now = new Date(now.getTime() + notificationRetryDelayMs(2));
        expect(await notifier().loop()).toEqual({ sent: 1, failed: 0 });
        expect(hook.received).toHaveLength(3);
        const last = hook.received[2]!;
        expect(verify("s3cret", last.headers["x-regent-signature"] as string, last.body)).toBe(true);
        expect(verify("wrong", last.headers["x-regent-signature"] as string, last.body)).toBe(false);
        const payload = JSON.parse(last.body) as NotificationPayload;
        expect(payload).toMatchObject({
          event: "flow_run.state",
          rule: { name: "failures" },
          flow_run: { id: runId, flow: "hello", project: "p", labels: ["prod"], parameters: { name: "Ada" } },
          state: { type: "Failed", message: "the warehouse said no" },
        });
        const { notification } = await api.ok(`{ notification { status attempts state flow_run_id } }`);
        expect(notification).toEqual([{ status: "sent", attempts: 3, state: "Failed", flow_run_id: runId }]);
        // Only the states asked for, once each: Running and a replayed Failed write notify nothing.
        expect(await notifier().loop()).toEqual({ sent: 0, failed: 0 });
      } finally {
        await hook.close();
      }
    });

    test("a receiver that keeps failing is given up after the last attempt, with its error kept", async () => {
      const hook = await receiver(Array(MAX_NOTIFICATION_ATTEMPTS).fill(500));
      try {
        const { flowId } = await seedFlow(api);
        await rule({ name: "all", states: ["Failed"], kind: "webhook", target: hook.url });
        await failRun(flowId, "x");
        for (let i = 1; i <= MAX_NOTIFICATION_ATTEMPTS; i++) {
          expect(await notifier().loop()).toEqual({ sent: 0, failed: 1 });
          now = new Date(now.getTime() + notificationRetryDelayMs(i));
        }
        expect(await notifier().loop()).toEqual({ sent: 0, failed: 0 });
        const { notification } = await api.ok(`{ notification { status attempts last_error } }`);
        expect(notification).toEqual([
          {
            status: "failed",
            attempts: MAX_NOTIFICATION_ATTEMPTS,
            last_error: `${hook.url} answered 500 Internal Server Error`,
          },
        ]);
        expect(hook.received[0]!.headers["x-regent-signature"]).toBeUndefined();
      } finally {
        await hook.close();
      }
    });

    test("Slack gets a line of text; email goes out over SMTP; rules only match their project and flow", async () => {
      const slack = await receiver();
      try {
        const { flowId, versionGroupId, projectId } = await seedFlow(api);
        await rule({
          name: "slack",
          flow_group_id: versionGroupId,
          states: ["Failed"],
          kind: "slack",
          target: slack.url,
        });
        await rule({ name: "mail", states: ["Failed"], kind: "email", target: "oncall@example.test" });
        const other = await api.ok(`mutation { create_project(input: { name: "other" }) { id } }`);
        await rule({
          name: "elsewhere",
          project_id: other.create_project.id,
          states: ["Failed"],
          kind: "slack",
          target: slack.url,
        });
        expect(projectId).not.toBe(other.create_project.id);
        await failRun(flowId, "disk full");
        expect(await notifier().loop()).toEqual({ sent: 2, failed: 0 });
        expect(slack.received).toHaveLength(1);
        expect(JSON.parse(slack.received[0]!.body)).toEqual({
          text: expect.stringMatching(/^hello run hello-\w+ \(project p\) is Failed: disk full$/),
        });
        expect(mails).toHaveLength(1);
        expect(mails[0]).toMatch(/^To: oncall@example\.test$/m);
        expect(mails[0]).toMatch(
          /^Subject: \[Regent\] hello run hello-\w+ \(project p\) is Failed: disk full$/m,
        );
      } finally {
        await slack.close();
      }
    });

    test("bad rules are refused with what to fix", async () => {
      expect(
        (await rule({ name: "x", states: [], kind: "webhook", target: "http://127.0.0.1/" })).errors?.[0]
          ?.message,
      ).toMatch(/needs the states it is for/);
      expect(
        (await rule({ name: "x", states: ["Failed"], kind: "pager", target: "x" })).errors?.[0]?.message,
      ).toBe('a notification\'s kind is webhook, slack or email, not "pager"');
      expect(
        (await rule({ name: "x", states: ["Failed"], kind: "webhook", target: "ftp://x" })).errors?.[0]
          ?.message,
      ).toBe('a webhook notification\'s target is an http(s) URL, not "ftp://x"');
      expect(
        (await rule({ name: "x", states: ["Failed"], kind: "email", target: "nobody" })).errors?.[0]?.message,
      ).toMatch(/target is an address/);
      const gone = await api.gql(
        `mutation { delete_notification_rule(input: { id: "${crypto.randomUUID()}" }) { success } }`,
      );
      expect(codeOf(gone)).toBe("NOTIFICATION_RULE_NOT_FOUND");
    });
  });
}

describe("notifications without SMTP settings", () => {
  test("an email rule is refused, saying which setting to give", async () => {
    const api = await startApi(BACKENDS[0]!, { services: { timers: false } });
    try {
      const r = await api.gql(
        `mutation { create_notification_rule(input: { name: "m", states: [Failed], kind: "email", target: "a@b.c" }) { id } }`,
      );
      expect(codeOf(r)).toBe("INVALID_CONFIG");
      expect(r.errors?.[0]?.message).toMatch(/set \[server\] smtp_url/);
    } finally {
      await api.close();
    }
  });
});
