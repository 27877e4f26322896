import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import { expect } from "vitest";
import { startServerWithFlows, useServerDatabases } from "./helpers.js";

const dbFor = useServerDatabases();

const fails = new URL("./fixtures/fails.ts", import.meta.url).pathname;

test("regent notification: a failed run reaches a webhook, signed; rules are listed and deleted", async ({
  cli,
  tmp,
}) => {
  const bodies: { signature: string | undefined; body: any }[] = [];
  const hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      bodies.push({
        signature: req.headers["x-regent-signature"] as string | undefined,
        body: JSON.parse(body),
      });
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
  try {
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), fails);
    const created = await cli([
      ...["notification", "create", "oncall", "--on", "Failed", "--on", "TimedOut"],
      ...["--webhook", url, "--secret", "s3cret", "--project", "demo", "--flow", "fails", "--api", api],
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe(
      `notification rule oncall: Failed, TimedOut of flow fails → webhook ${url}\n`,
    );
    const listed = await cli(["notification", "list", "--api", api]);
    expect(listed.stdout).toMatch(
      /^name +kind +target +states +project +flow\noncall +webhook +http:\S+ +Failed,TimedOut +demo +one\n$/,
    );
    const noTarget = await cli(["notification", "create", "x", "--on", "Failed", "--api", api]);
    expect(noTarget.stderr).toMatch(/give one of --webhook URL, --slack URL or --email ADDRESS/);

    startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--prestarted", "0", "--api", api]);
    const run = await cli(["run", "--name", "fails", "--project", "demo", "--watch", "--api", api]);
    expect(run.code).toBe(1);
    const deadline = Date.now() + 30_000;
    while (bodies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(bodies[0]!.body).toMatchObject({
      rule: { name: "oncall" },
      flow_run: { flow: "fails", project: "demo" },
      state: { type: "Failed" },
    });
    const { notification } = await graphqlData(api, `{ notification { status attempts } }`);
    expect(notification).toEqual([{ status: "sent", attempts: 1 }]);

    expect((await cli(["notification", "delete", "oncall", "--api", api])).stdout).toBe(
      "notification rule oncall deleted\n",
    );
    const again = await cli(["notification", "delete", "oncall", "--api", api]);
    expect(again.stderr).toMatch(/no notification rule named "oncall"/);
  } finally {
    await new Promise<void>((r) => hook.close(() => r()));
  }
}, 90_000);
