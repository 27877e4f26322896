// What the benchmarks that drive the built CLI share: its path, the environment its children get, and
// starting a long-running `regent …` child (server, agent) that is ready once its output says so.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built CLI, as users run it. */
export const CLI = fileURLToPath(new URL("../../packages/cli/bin/regent.js", import.meta.url));

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** This process's environment without `REGENT__*` (they must not change what is measured), without colour. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("REGENT__")) env[k] = v;
  env.NO_COLOR = "1";
  return env;
}

export interface CliChild {
  readonly pid: number;
  /** The first match of the `ready` pattern in its standard output. */
  readonly match: RegExpExecArray;
  /** Its standard output (the first 64 kB) and the last 8 kB of its standard error, for messages. */
  output(): string;
  /** "running", or how it exited. */
  status(): string;
  /** SIGTERM (the CLI stops cleanly, writing a CPU profile if asked), SIGKILL 10 s later. */
  stop(): Promise<void>;
}

export interface CliChildOptions {
  /** What it is, in errors: "the server child". */
  readonly what: string;
  /** Arguments of `regent`. */
  readonly args: readonly string[];
  /** Node's own options, before the CLI's path (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** Ready once its standard output matches this. */
  readonly ready: RegExp;
  /** The caller's set of live children (killed on abort); the child is in it until it exits. */
  readonly children: Set<ChildProcess>;
}

/** Starts `regent …args` as a child and waits until its output matches `ready` (30 s at most). */
export function startCliChild(options: CliChildOptions): Promise<CliChild> {
  const { what, children } = options;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...options.args], {
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  child.once("exit", () => children.delete(child));
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    if (stdout.length < 64_000) stdout += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-8_000);
  });
  const output = () => `stdout: ${stdout.trim()}\n  stderr: ${stderr.trim()}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  return new Promise<CliChild>((resolvePromise, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${what} ${why}\n  ${output()}`));
    };
    const timer = setTimeout(() => fail(`was not ready in ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.once("error", (error) => fail(`could not be started: ${error.message}`));
    child.once("exit", (code, signal) => fail(`exited with ${signal ?? `code ${code}`} before it was ready`));
    child.stdout!.on("data", () => {
      const match = options.ready.exec(stdout);
      if (settled || !match || child.pid === undefined) return;
      settled = true;
      clearTimeout(timer);
      resolvePromise({
        pid: child.pid,
        match,
        output,
        status: () =>
          child.exitCode === null && child.signalCode === null
            ? "running"
            : `exited with ${child.signalCode ?? `code ${child.exitCode}`}`,
        stop,
      });
    });
  });
}

export interface CliCommandOptions {
  /** Arguments of `regent`. */
  readonly args: readonly string[];
  /** The caller's set of live children (killed on abort); the child is in it until it exits. */
  readonly children: Set<ChildProcess>;
  /** Killed after this long (default 60 s). */
  readonly timeoutMs?: number;
}

/** Runs a short `regent …args` command to its end and returns its standard output; throws on a non-zero exit. */
export function runCliCommand(options: CliCommandOptions): Promise<string> {
  const { args, children } = options;
  const child = spawn(process.execPath, [CLI, ...args], {
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-8_000);
  });
  return new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(stdout);
      else
        reject(
          new Error(
            `regent ${args.join(" ")} exited with ${signal ?? `code ${code}`}\n  stdout: ${stdout.trim()}\n  stderr: ${stderr.trim()}`,
          ),
        );
    });
  });
}

/** Starts `regent …cli agent local start` taking unlabeled runs, and waits until it waits for runs. */
export function startAgentChild(options: {
  /** Arguments before `agent` (config file, `--api URL`). */
  readonly cli: readonly string[];
  readonly maxConcurrent: number;
  readonly prestarted: number;
  readonly children: Set<ChildProcess>;
}): Promise<CliChild> {
  return startCliChild({
    what: "the agent child",
    args: [
      ...options.cli,
      ...["agent", "local", "start", "--accept-unlabeled"],
      ...["--max-concurrent", String(options.maxConcurrent), "--prestarted", String(options.prestarted)],
    ],
    ready: /waiting for flow runs/,
    children: options.children,
  });
}

/** A server child, with the GraphQL URL it printed. */
export interface ServerChild extends CliChild {
  readonly graphqlUrl: string;
}

/**
 * Starts `regent --config <configFile> server start --db <db> --host 127.0.0.1 --port 0` and waits for its
 * `API …` line. `configFile` should not exist: the user's ~/.regent/config.toml must not change what is
 * measured.
 */
export async function startServerChild(options: {
  readonly db: string;
  readonly configFile: string;
  readonly children: Set<ChildProcess>;
  /** Writes a .cpuprofile there when it stops (Node 20 refuses --cpu-prof in NODE_OPTIONS). */
  readonly cpuProfDir?: string | undefined;
}): Promise<ServerChild> {
  const { cpuProfDir } = options;
  const child = await startCliChild({
    what: "the server child",
    nodeArgs: cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [],
    args: [
      ...["--config", options.configFile, "server", "start", "--db", options.db],
      ...["--host", "127.0.0.1", "--port", "0"],
    ],
    ready: /API\s+(http:\/\/127\.0\.0\.1:\d+\/graphql)/,
    children: options.children,
  });
  return { ...child, graphqlUrl: child.match[1]! };
}
