import { execFile, execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./network.js";

const run = promisify(execFile);

/** Where Debian's postgresql-15 puts its programs (scripts/testbed/postgres.sh uses the same). */
export const PG_BIN = "/usr/lib/postgresql/15/bin";

/** A PostgreSQL 15 cluster of one test file's own, to stop and start at will (see {@link startPrivatePostgres}). */
export interface PrivatePostgres {
  /** Superuser URL of its `postgres` database: `postgres://postgres@127.0.0.1:PORT/postgres`. */
  readonly url: string;
  readonly port: number;
  /** The cluster's folder (`data/`, `log`, the Unix socket), removed by `dispose()`. */
  readonly dir: string;
  /**
   * Stops the server, keeping its data: `immediate` (the default) kills it as a crash would, without a
   * shutdown checkpoint, so the next start runs crash recovery; `fast` ends sessions and checkpoints.
   * Connected clients see their connection end. Does nothing if it is stopped already.
   */
  stop(mode?: "immediate" | "fast"): Promise<void>;
  /** Starts it again on the same data folder and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it (if running) and removes its folder. Idempotent; call it in `afterAll`/`finally`. */
  dispose(): Promise<void>;
}

/**
 * Makes and starts a throwaway PostgreSQL 15 cluster that belongs to the caller alone, for tests that stop
 * or restart the database (the shared one from `REGENT_TEST_PG_URL` must never be stopped). Like
 * `scripts/testbed/postgres.sh`: `initdb` into a fresh `/tmp/regent-pg-private.XXXXXX` (as user `postgres`
 * via `runuser` when we are root, since initdb refuses root), then `pg_ctl start` on 127.0.0.1 only, on a
 * free port, with its Unix socket in its own folder. Takes about 1–2 s.
 *
 * Durability: fsync and full_page_writes are off (they only matter if the machine crashes), but
 * synchronous_commit stays on, so a commit the client saw acknowledged survives `stop("immediate")`.
 *
 * If the process exits without `dispose()`, an exit hook stops the cluster and removes its folder (a
 * `kill -9` of the test process leaves it running: `pg_ctl -D DIR/data stop` it by hand).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!existsSync(join(PG_BIN, "initdb"))) {
    throw new Error(
      `PostgreSQL 15 is not installed (${PG_BIN}/initdb is missing): install postgresql-15 ` +
        "(`bash scripts/testbed/postgres.sh start` does it with apt on Debian), or set REGENT_TEST_BACKENDS=sqlite",
    );
  }
  const root = process.getuid?.() === 0;
  // initdb refuses to run as root, and the server must be able to reach its folder: run them as postgres.
  const asPg = (program: string, args: string[]) =>
    root
      ? run("runuser", ["-u", "postgres", "--", join(PG_BIN, program), ...args])
      : run(join(PG_BIN, program), args);

  const dir = await mkdtemp("/tmp/regent-pg-private.");
  const data = join(dir, "data");
  const log = join(dir, "log");
  let port = 0;
  let running = false;

  const stopSync = () => {
    try {
      if (running) {
        const args = ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"];
        if (root) execFileSync("runuser", ["-u", "postgres", "--", join(PG_BIN, "pg_ctl"), ...args]);
        else execFileSync(join(PG_BIN, "pg_ctl"), args);
      }
    } catch {
      // Best effort at exit.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stopSync);

  const options = () =>
    [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses=127.0.0.1",
      "-c fsync=off",
      "-c full_page_writes=off",
      "-c max_connections=50",
    ].join(" ");

  const pgStart = async () => {
    try {
      await asPg("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "30", "-o", options(), "start"]);
    } catch (error) {
      const tail = await readFile(log, "utf8").catch(() => "");
      throw Object.assign(new Error(`pg_ctl start failed on port ${port}: ${tail.slice(-2000)}`), {
        cause: error,
        bindFailed: /could not bind|could not create any TCP\/IP sockets/.test(tail),
      });
    }
    running = true;
  };

  let disposed: Promise<void> | undefined;
  const cluster: PrivatePostgres = {
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    },
    get port() {
      return port;
    },
    dir,
    async stop(mode = "immediate") {
      if (!running) return;
      await asPg("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "30", "stop"]);
      running = false;
    },
    start: pgStart,
    dispose() {
      disposed ??= (async () => {
        try {
          await cluster.stop("immediate");
        } finally {
          process.off("exit", stopSync);
          await rm(dir, { recursive: true, force: true });
        }
      })();
      return disposed;
    },
  };

  try {
    if (root) await run("chown", ["postgres:", dir]);
    await asPg("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
      "--no-sync",
    ]);
    // A port free now may be taken before the server binds it: then try another.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await pgStart();
        break;
      } catch (error) {
        if (!(error as { bindFailed?: boolean }).bindFailed || attempt >= 5) throw error;
      }
    }
  } catch (error) {
    await cluster.dispose();
    throw error;
  }
  return cluster;
}
