import { PassThrough } from "node:stream";
import { authConfigFor, followProgress, type RegistryAuth } from "@regent/storage";
import type Dockerode from "dockerode";
import type { ClaimedRun, Launched, Launcher, LaunchOutcome, OutputLine, WorkerLaunch } from "./launcher.js";
import { eachLine } from "./lines.js";
import { runConfigFor } from "./run-config.js";
import { noImage, runEnvironment, runImage, WORKER_COMMAND } from "./run-launch.js";

export interface DockerLauncherOptions {
  readonly docker: Dockerode;
  /** The API address given to runs (they reach it from inside their containers). */
  readonly apiUrl: string;
  /** The agent's own key: given to no container (each run gets its own token). */
  readonly apiKey: string | undefined;
  /** What a container runs (the image's `regent execute flow-run`, by default). */
  readonly command: readonly string[];
  /** The image for runs whose run config names none. */
  readonly defaultImage: string | undefined;
  /** Network for runs whose run config names none (default `host`: the API on 127.0.0.1 is reachable). */
  readonly network: string;
  /** Credentials per registry host (`registry.example.com:5000`), for pulls. */
  readonly registryAuth: Readonly<Record<string, RegistryAuth>>;
  /** Extra environment for every run (under the run config's). */
  readonly env: Readonly<Record<string, string>>;
  /** Remove each container once it has ended and its output is read (default true). */
  readonly removeContainers: boolean;
  readonly log: (line: string) => void;
}

const MIB = 1024 * 1024;

/**
 * Runs each flow run in a Docker container: pulls its image when it is not on the machine (with the
 * registry's credentials), creates the container with the run's environment, token and limits, streams
 * its output into the agent's log, waits, and says how it ended — out of memory, killed, or exited —
 * then removes it.
 */
export function dockerLauncher(options: DockerLauncherOptions): Launcher {
  const { docker } = options;

  const pullIfMissing = async (image: string) => {
    try {
      await docker.getImage(image).inspect();
      return;
    } catch {
      // not on this machine: pulled below
    }
    const authconfig = authConfigFor(image, options.registryAuth);
    options.log(`pulling ${image}${authconfig ? ` (as ${authconfig.username})` : ""}…`);
    const stream = await docker.pull(image, authconfig ? { authconfig } : {});
    await followProgress(docker, stream);
  };

  return {
    type: "docker",
    noun: "container",
    async unavailable() {
      try {
        await withTimeout(docker.ping(), PING_TIMEOUT_MS);
        return undefined;
      } catch (error) {
        return engineDown(error);
      }
    },
    launch(run: ClaimedRun, worker?: WorkerLaunch): Launched {
      const config = runConfigFor("docker", run.runConfig, run.flowRunConfig);
      const image = runImage(config.image, run, options.defaultImage);
      if (!image) throw noImage("dockerRun");
      const env = runEnvironment(run, options.apiUrl, options.env, config.env);
      const label = worker ? `[${run.name} ${worker.id}] ` : `[${run.name}] `;
      let container: Dockerode.Container | undefined;
      let started = false;
      const tail: OutputLine[] = [];
      let stopAsked: boolean | undefined;

      const ended = (async (): Promise<LaunchOutcome> => {
        try {
          await pullIfMissing(image);
          container = await docker.createContainer({
            Image: image,
            Cmd: worker ? [...WORKER_COMMAND, ...worker.args] : [...options.command],
            Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
            Labels: {
              "io.regent.flow-run-id": run.id,
              "io.regent.flow-id": run.flowId,
              ...(worker ? { "io.regent.worker-id": worker.id } : {}),
            },
            HostConfig: {
              NetworkMode: config.network ?? options.network,
              ...(config.memory ? { Memory: config.memory * MIB, MemorySwap: config.memory * MIB } : {}),
              ...(config.cpus ? { NanoCpus: Math.round(config.cpus * 1e9) } : {}),
              ...(config.volumes?.length ? { Binds: [...config.volumes] } : {}),
            },
          });
          const output = await container.attach({ stream: true, stdout: true, stderr: true, logs: true });
          const out = new PassThrough();
          const err = new PassThrough();
          docker.modem.demuxStream(output, out, err);
          const print = (line: string) => {
            options.log(`${label}${line}`);
            tail.push({ line, at: new Date() });
            if (tail.length > OUTPUT_TAIL) tail.shift();
          };
          const outLines = eachLine(out, print);
          const errLines = eachLine(err, print);
          await container.start();
          started = true;
          if (stopAsked !== undefined) await stopContainer(container, stopAsked);
          const drained = new Promise<void>((resolve) => {
            output.once("end", resolve);
            output.once("close", resolve);
          });
          const { StatusCode } = (await container.wait()) as { StatusCode: number };
          await Promise.race([drained, new Promise((r) => setTimeout(r, 2_000))]);
          outLines.flush();
          errLines.flush();
          // Undefined when the engine went away as the container ended (dockerd stopping kills its containers).
          const state = await container
            .inspect()
            .then((i) => i.State)
            .catch(() => undefined);
          const outcome = state
            ? outcomeOf(StatusCode, state, config.memory)
            : lostWithEngine(`it ended with code ${StatusCode}, and the Docker engine stopped answering`);
          return { ...outcome, output: tail } as LaunchOutcome;
        } catch (error) {
          if (started)
            return lostWithEngine(`the Docker engine stopped answering: ${(error as Error).message}`);
          return { kind: "not-started", error: error as Error };
        } finally {
          if (container && options.removeContainers)
            await container.remove({ force: true }).catch(() => undefined);
        }
      })();

      return {
        get ref() {
          return container ? `container ${container.id.slice(0, 12)}` : `image ${image}`;
        },
        ended,
        stop(force) {
          if (!container) {
            stopAsked = force;
            return;
          }
          void stopContainer(container, force);
        },
      };
    },
  };
}

const PING_TIMEOUT_MS = 5_000;
/** Lines of a container's output kept for the run's logs, should it end before its flow reports any. */
const OUTPUT_TAIL = 50;

/** What the agent says while no Docker engine answers. */
export function engineDown(error: unknown): string {
  return `no Docker engine answers at ${process.env.DOCKER_HOST ?? "/var/run/docker.sock"} (${(error as Error).message}): start dockerd, or set DOCKER_HOST`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A container whose end the agent could not see: its engine went away under it. */
function lostWithEngine(why: string): LaunchOutcome {
  return { kind: "exited", description: `was lost (${why})`, exitCode: null, signal: null };
}

async function stopContainer(container: Dockerode.Container, force: boolean): Promise<void> {
  // SIGTERM, then Docker's own SIGKILL after the grace period; `force` kills at once.
  await (force ? container.kill() : container.stop({ t: 30 })).catch(() => undefined);
}

/** How a container ended, in the words an infrastructure failure is reported with. */
export function outcomeOf(
  statusCode: number,
  state: { OOMKilled?: boolean; ExitCode?: number; Error?: string },
  memoryMiB: number | undefined,
): LaunchOutcome {
  if (state.OOMKilled)
    return {
      kind: "exited",
      description: `was killed for using more memory than its limit${memoryMiB ? ` of ${memoryMiB} MiB` : ""} (OOMKilled)`,
      exitCode: statusCode,
      signal: "SIGKILL",
    };
  if (statusCode > 128 && statusCode < 160) {
    const signal = SIGNALS[statusCode - 128] ?? `signal ${statusCode - 128}`;
    return {
      kind: "exited",
      description: `was killed by ${signal} (exit code ${statusCode}; e.g. docker kill or docker stop)`,
      exitCode: statusCode,
      signal,
    };
  }
  return {
    kind: "exited",
    description: `exited with code ${statusCode}`,
    exitCode: statusCode,
    signal: null,
  };
}

const SIGNALS: Readonly<Record<number, string>> = { 1: "SIGHUP", 2: "SIGINT", 9: "SIGKILL", 15: "SIGTERM" };
