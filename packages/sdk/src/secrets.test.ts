import { afterEach, describe, expect, test } from "vitest";
import { type EngineEvent, flow, memoryReporter, task } from "./index.js";

// ctx.secret without a server: env: and bare names read the environment; every value read is masked in
// what the run reports (logs, state messages, errors), from the flow and from its tasks.

const logs = (events: readonly EngineEvent[]) =>
  events.flatMap((e) => (e.type === "log" ? [e.log.message] : []));
const states = (events: readonly EngineEvent[]) =>
  events.flatMap((e) => (e.type === "flow_run_state" || e.type === "task_run_state" ? [e.state] : []));

afterEach(() => {
  delete process.env.REGENT_TEST_SECRET;
  delete process.env.WAREHOUSE_PASSWORD;
});

describe("ctx.secret", () => {
  test("reads env: and, without a server, bare names from the environment, and masks what it read", async () => {
    process.env.REGENT_TEST_SECRET = "s3cr3t-from-env";
    process.env.WAREHOUSE_PASSWORD = "hunter2-warehouse";
    const reporter = memoryReporter();
    const connect = task({ name: "connect" }, async (_: undefined, ctx) => {
      const password = await ctx.secret("WAREHOUSE_PASSWORD");
      ctx.log.info(`connecting with ${password}`);
      console.log("the password is %s", password);
      throw new Error(`login refused for password ${password}`);
    });
    const r = await flow({ name: "secretive" }, async (_p, ctx) => {
      const token = await ctx.secret("env:REGENT_TEST_SECRET");
      ctx.log.info(`token=${token}`);
      expect(token).toBe("s3cr3t-from-env");
      await connect();
    }).run(undefined, { reporter });

    expect(r.state.type).toBe("Failed");
    expect(logs(reporter.events)).toEqual(
      expect.arrayContaining(["token=***", "connecting with ***", "the password is ***"]),
    );
    const text = JSON.stringify(reporter.events);
    expect(text).not.toContain("s3cr3t-from-env");
    expect(text).not.toContain("hunter2-warehouse");
    const failed = states(reporter.events).filter((s) => s.type === "Failed");
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.some((s) => s.message?.includes("login refused for password ***"))).toBe(true);
  });

  test("a secret that is not there, or a bad reference, fails with a message saying where it looked", async () => {
    const missing = await flow({ name: "missing" }, async (_p, ctx) => ctx.secret("NOPE_NOT_SET")).run();
    expect(missing.state.type).toBe("Failed");
    expect(missing.state.message).toMatch(
      /secret "NOPE_NOT_SET" not found: this run has no server, so it reads the environment variable NOPE_NOT_SET, which is not set/,
    );
    const env = await flow({ name: "missing-env" }, async (_p, ctx) => ctx.secret("env:NOPE_NOT_SET")).run();
    expect(env.state.message).toMatch(/the environment variable NOPE_NOT_SET is not set/);
    const bad = await flow({ name: "bad-ref" }, async (_p, ctx) => ctx.secret("vault:kv/db")).run();
    expect(bad.state.message).toMatch(/unknown source "vault".*env:NAME, ssm:\/path or secretsmanager:id/);
  });
});
