import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REGENT_BIN, regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const example = (name: string) => new URL(`../../../examples/${name}`, import.meta.url).pathname;

describe("regent run: bad usage exits 2 with a message", () => {
  test.for([
    {
      args: ["run", example("hello.ts"), "--param", "nme=Ada"],
      err: /nme: unknown parameter \(known: name\)/,
    },
    { args: ["run", example("hello.ts"), "--param", "name"], err: /--param takes key=value \(got "name"\)/ },
    { args: ["run", example("hello.ts"), "--params-json", "{bad"], err: /--params-json is not valid JSON/ },
    {
      args: ["run", example("hello.ts"), "--params-json", "[1]"],
      err: /--params-json must be a JSON object/,
    },
    { args: ["run", "does-not-exist.ts"], err: /cannot read flow file does-not-exist.ts: no such file/ },
    { args: ["run"], err: /regent run needs a flow file, or --name and --project for a registered flow/ },
    { args: ["run", "x.ts", "--name", "hello"], err: /give either a file \(local run\) or --name/ },
    { args: ["run", "--name", "hello"], err: /--name needs --project/ },
    { args: ["frobnicate"], err: /unknown command 'frobnicate'/ },
    {
      args: ["run", fixture("throws-on-import.ts")],
      err: /FLOW_LOAD_FAILED.*failed while loading: SyntaxError/s,
    },
  ])("regent $args.0 $args.2 $args.3", async ({ args, err }, { cli }) => {
    const r = await cli(args);
    expect(r.stderr).toMatch(err);
    expect(r.code).toBe(2);
  });

  test("a parameter of the wrong type lists every issue and nothing runs", async ({ cli, tmp }) => {
    const file = join(tmp, "typed.ts");
    await writeFile(
      file,
      `import { flow } from "@regent/sdk";
import { z } from "zod";
export default flow({ name: "typed", params: z.object({ n: z.number(), when: z.enum(["now", "later"]), flag: z.boolean() }) },
  async () => { console.log("RAN"); });
`,
    );
    // tmp has no node_modules above it: the file is bundled whole, zod included (resolved from the repo).
    const r = await cli(
      ["run", file, "--param", "n=abc", "--param", "when=soon", "--param", "flag=1", "--param", "extra=1"],
      {
        env: { NODE_PATH: new URL("../../../node_modules", import.meta.url).pathname },
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/extra: unknown parameter/);
    expect(r.stderr).toMatch(/n: .*expected number/);
    expect(r.stderr).toMatch(/when: .*(expected one of|Invalid option)/);
    expect(r.stderr).toMatch(/flag: .*expected boolean/);
    expect(r.stdout).not.toContain("RAN");
  });

  test("a file that does not compile is reported as file:line:col", async ({ cli, tmp }) => {
    const file = join(tmp, "broken.ts");
    await writeFile(
      file,
      `import { flow } from "@regent/sdk";\nexport default flow({ name: "b" }, async () => {\n  const x = ;\n});\n`,
    );
    const r = await cli(["run", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:3:13: error: Unexpected ";"`);
  });

  test("a file without a flow default export names what it does export", async ({ cli, tmp }) => {
    const file = join(tmp, "named.ts");
    await writeFile(
      file,
      `import { flow } from "@regent/sdk";\nexport const mine = flow({ name: "m" }, async () => {});\n`,
    );
    const r = await cli(["run", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /has no default export that is a flow\. It exports "mine": add `export default mine;`/,
    );
  });
});

describe("regent run: failing flows exit 1", () => {
  test("a task that throws fails the run, shows the error and stack, and independent tasks still finish", async ({
    cli,
  }) => {
    const r = await cli(["run", fixture("fails.ts")]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/boom → Failed: the source table is missing/);
    expect(r.stdout).toMatch(/at .*fails\.ts:4/); // stack mapped to the .ts source
    expect(r.stdout).toMatch(/independent │ INFO {2}independent work done/);
    expect(r.stdout).toMatch(/independent → Success/);
    expect(r.stdout).toMatch(/finished Failed/);
  });

  test("a task over its timeout ends TimedOut", async ({ cli }) => {
    const r = await cli(["run", fixture("timeout.ts"), "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.state).toBe("Failed");
    expect(out.failedTaskRuns).toEqual([
      {
        task: "slow",
        state: "TimedOut",
        message: 'task "slow" exceeded its timeout of 150 ms',
        code: "TASK_TIMED_OUT",
      },
    ]);
    expect(r.stderr).not.toContain("never reached");
  });

  test.for(["results", "pool"])(
    "a result that cannot be serialised where it must be fails with NOT_SERIALIZABLE (%s)",
    async (mode, { cli, tmp }) => {
      const r = await cli(["run", fixture("not-serializable.ts"), "--param", `mode=${mode}`, "--json"], {
        env: { RESULTS_DIR: tmp },
      });
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout);
      expect(out.failedTaskRuns).toHaveLength(1);
      expect(out.failedTaskRuns[0]).toMatchObject({ state: "Failed", code: "NOT_SERIALIZABLE" });
      expect(out.failedTaskRuns[0].message).toMatch(
        mode === "results" ? /circular/i : /could not be cloned/i,
      );
    },
  );
});

describe("regent run: output", () => {
  test("--json prints one JSON document on stdout and progress on stderr", async ({ cli }) => {
    const r = await cli(["run", example("hello.ts"), "--params-json", '{"name":"Grace"}', "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ flow: "hello", state: "Success", result: { greeted: "Grace", length: 5 } });
    expect(out.taskRuns).toEqual({ total: 1, byState: { Success: 1 } });
    expect(r.stderr).toContain("Hello, Grace!");
  });

  test("plain output summarises mapped runs instead of a line per child", async ({ cli }) => {
    const r = await cli(["run", fixture("wide.ts")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/step: 300 mapped runs → 300 Success/);
    expect(r.stdout).not.toMatch(/step\[17\]/);
    expect(r.stdout).not.toMatch(/running \d+ · done/); // no live status line without a terminal
  });

  test("on a terminal a live status line shows running and finished task runs", async () => {
    // `script` gives the command a pseudo-terminal, as a person's shell would.
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        "script",
        ["-qec", `${process.execPath} ${REGENT_BIN} run ${fixture("wide.ts")}`, "/dev/null"],
        {
          env: { ...process.env, NO_COLOR: "1" },
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let text = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        text += d;
      });
      child.on("error", reject);
      child.on("close", () => resolve(text));
    });
    expect(output).toMatch(/wide \(wide-[0-9a-f]{8}\) · running \d+ · done \d+\/\d+ · failed 0/);
    expect(output).toMatch(/finished Success/);
  });

  test("--help lists the run command and --version prints the version", async ({ cli }) => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/run \[options\] \[file\]/);
    expect(help.stdout).toMatch(/register \[options\] <file-or-folder>/);
    const version = await cli(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
