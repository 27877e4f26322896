import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built `regent` command of this repository, as users get it after `npm install`. */
// From the file path, not `new URL(…, import.meta.url)`: under a DOM test environment (happy-dom) the
// global URL is the DOM's, which fileURLToPath refuses.
export const REGENT_BIN = join(dirname(fileURLToPath(import.meta.url)), "../../cli/bin/regent.js");

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string | undefined>;
  /** Kill the process (SIGKILL) after this long; the result then has `signal` set. Default 60 s. */
  readonly timeoutMs?: number;
  /** Written to its standard input, which then ends (default: no input at all). */
  readonly input?: string;
}

const live = new Set<ChildProcess>();

/** Child processes started through the testkit that have not exited yet (for leak checks). */
export const liveChildren = (): ReadonlySet<ChildProcess> => live;

/** Runs `regent ...args` as a child process and collects its output. Never rejects on a non-zero exit. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REGENT_BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...options.env },
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    live.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
