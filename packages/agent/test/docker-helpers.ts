import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { followProgress } from "@regent/storage";
import Dockerode from "dockerode";
import { FAKE_EXECUTOR, waitFor } from "./helpers.js";

// What the Docker tests share: the testbed's engine and registry (scripts/testbed/docker.sh, which npm
// test starts), an image of the fake executor, and engines of a test's own to stop and start.

export const registry = process.env.REGENT_TEST_REGISTRY ?? "";
const base = process.env.REGENT_TEST_BASE_IMAGE ?? "";
if (!registry || !base)
  throw new Error(
    'the Docker tests need a Docker engine and a registry: run them with `npm test` (it starts both), or `eval "$(bash scripts/testbed/docker.sh start)"` first',
  );
export const auth = {
  username: process.env.REGENT_TEST_REGISTRY_USER ?? "",
  password: process.env.REGENT_TEST_REGISTRY_PASSWORD ?? "",
};
/** What the fake executor's containers run. */
export const COMMAND = ["/usr/bin/node", "/app/fake-executor.mjs"];

/** Builds `image` FROM the testbed's base image (this machine's node), plus the fake executor. */
export function buildFakeExecutorImage(image: string): void {
  execFileSync("docker", ["build", "-q", "-t", image, "-f", "-", dirname(FAKE_EXECUTOR)], {
    input: `FROM ${base}\nCOPY fake-executor.mjs /app/fake-executor.mjs\nCMD ${JSON.stringify(COMMAND)}\n`,
    stdio: ["pipe", "ignore", "inherit"],
  });
}

/** Pushes local `image` to the registry as `ref` (`registry/name:tag`) with credentials, then removes `ref` here. */
export async function pushPrivate(docker: Dockerode, image: string, ref: string): Promise<void> {
  const colon = ref.lastIndexOf(":");
  await docker.getImage(image).tag({ repo: ref.slice(0, colon), tag: ref.slice(colon + 1) });
  const push = await docker.getImage(ref).push({ authconfig: { ...auth, serveraddress: registry } });
  await followProgress(docker, push);
  await docker.getImage(ref).remove();
}

/**
 * A Docker engine of the test's own (its own socket, data and containerd), to stop and start under an
 * agent without touching the shared one. Its images survive a restart; `dispose` stops it and removes all.
 */
export function ownDockerEngine() {
  const dir = mkdtempSync(join(tmpdir(), "regent-dockerd-"));
  const socket = join(dir, "docker.sock");
  const docker = new Dockerode({ socketPath: socket });
  let child: ChildProcess | undefined;
  const engine = {
    socket,
    docker,
    async start(): Promise<void> {
      child = spawn(
        "dockerd",
        [
          `--host=unix://${socket}`,
          `--data-root=${dir}/data`,
          `--exec-root=${dir}/exec`,
          `--pidfile=${dir}/dockerd.pid`,
          "--bridge=none",
          "--iptables=false",
          "--ip-masq=false",
        ],
        { stdio: "ignore" },
      );
      await waitFor(
        "the test's own dockerd",
        () =>
          docker.ping().then(
            () => true,
            () => undefined,
          ),
        30_000,
      );
    },
    /** Stops it as `systemctl stop docker` would (SIGTERM: its containers are stopped with it). */
    async stop(): Promise<void> {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGTERM");
      await exited;
    },
    async dispose(): Promise<void> {
      await engine.stop();
      // dockerd leaves its default network namespace mounted below its exec root.
      try {
        execFileSync("umount", [`${dir}/exec/netns/default`], { stdio: "ignore" });
      } catch {
        // not mounted
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return engine;
}
