import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test as base, expect } from "vitest";
import { type CliOptions, type CliResult, liveChildren, runCli } from "./cli.js";

export interface RegentFixtures {
  /** A fresh temporary folder, removed after the test. */
  tmp: string;
  /** `regent ...args` as a child process; the test fails if one is still running when it ends. */
  cli: (args: readonly string[], options?: CliOptions) => Promise<CliResult>;
}

/** vitest `test` with Regent's fixtures and hygiene checks (STYLE §11–13). */
export const regentTest = base.extend<RegentFixtures>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring.
  tmp: async ({}, use) => {
    const dir = await mkdtemp(join(tmpdir(), "regent-test-"));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
  // biome-ignore lint/correctness/noEmptyPattern: as above.
  cli: async ({}, use) => {
    await use((args, options) => runCli(args, options));
    const left = [...liveChildren()].filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of left) c.kill("SIGKILL");
    expect(
      left.map((c) => c.spawnargs.join(" ")),
      "child processes left running by the test",
    ).toEqual([]);
  },
});
