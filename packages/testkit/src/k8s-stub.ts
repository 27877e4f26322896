import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Job } from "kubernetes-models/batch/v1/Job";

// A stand-in for the Kubernetes API (the Jobs and pods the Kubernetes agent uses), for tests through the
// official client: each Job created is checked against the Kubernetes OpenAPI schema (kubernetes-models'
// validation) and runs for real — its pod is `command` started as a process with the container's env —
// so the run goes Running and on to its end through the test's server. The pod's status follows the
// process: Pending, Running, then Succeeded or Failed with its exit code. A test can make the next Job's
// image fail to pull or its pod unschedulable, and evict or OOM-kill a running pod.

export interface StubPod {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly env: Record<string, string>;
  process: ChildProcess | undefined;
  phase: "Pending" | "Running" | "Succeeded" | "Failed";
  reason?: string;
  message?: string;
  waiting?: { reason: string; message: string };
  terminated?: { exitCode: number; reason: string };
  unschedulable?: string;
}

export interface StubJob {
  readonly name: string;
  readonly namespace: string;
  readonly manifest: Record<string, unknown>;
  readonly pod: StubPod;
  deleted: boolean;
}

export interface K8sStub {
  /** `http://127.0.0.1:PORT`, the cluster's server for a KubeConfig. */
  readonly url: string;
  readonly token: string;
  readonly jobs: StubJob[];
  /** Requests as `METHOD path`. */
  readonly requests: string[];
  /** Jobs that did not fit the schema, and requests without the token. */
  readonly violations: string[];
  /** What the next Job's pod does: run (default), fail to pull its image, or stay unschedulable. */
  nextJob: "run" | "image-pull" | "unschedulable";
  evict(pod: StubPod): void;
  oomKill(pod: StubPod): void;
  close(): Promise<void>;
}

export interface K8sStubOptions {
  /**
   * What a pod runs, as a process here (an executor); or, given its container's command, what to run for
   * it (e.g. `regent …` as the built CLI).
   */
  readonly command: readonly string[] | ((containerCommand: readonly string[]) => readonly string[]);
  readonly env?: Readonly<Record<string, string>>;
}

const status = (res: ServerResponse, code: number, reason: string, message: string) => {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code }));
};

const body = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => resolve(text));
  });

export async function startK8sStub(options: K8sStubOptions): Promise<K8sStub> {
  const token = "stub-token";
  const jobs: StubJob[] = [];
  const requests: string[] = [];
  const violations: string[] = [];
  let stub: K8sStub;

  const podJson = (p: StubPod) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: p.name, namespace: p.namespace, labels: p.labels },
    status: {
      phase: p.phase,
      ...(p.reason ? { reason: p.reason, message: p.message } : {}),
      conditions: p.unschedulable
        ? [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: p.unschedulable }]
        : [{ type: "PodScheduled", status: "True" }],
      containerStatuses: [
        {
          name: "flow",
          image: "image",
          imageID: "",
          ready: p.phase === "Running",
          restartCount: 0,
          state: p.waiting
            ? { waiting: p.waiting }
            : p.terminated
              ? { terminated: p.terminated }
              : p.phase === "Running"
                ? { running: {} }
                : { waiting: { reason: "ContainerCreating" } },
        },
      ],
    },
  });
  const jobJson = (j: StubJob) => {
    const p = j.pod;
    const done = p.phase === "Succeeded" || p.phase === "Failed";
    return {
      ...j.manifest,
      status: done
        ? {
            conditions: [
              p.phase === "Succeeded"
                ? { type: "Complete", status: "True" }
                : {
                    type: "Failed",
                    status: "True",
                    reason: "BackoffLimitExceeded",
                    message: "Job has reached the specified backoff limit",
                  },
            ],
            ...(p.phase === "Succeeded" ? { succeeded: 1 } : { failed: 1 }),
          }
        : { active: 1 },
    };
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    requests.push(`${req.method} ${url.pathname}`);
    if (req.headers.authorization !== `Bearer ${token}`)
      violations.push(`${req.method} ${url.pathname}: no bearer token`);
    const text = await body(req);
    const jobsPath = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+)(\/status)?)?$/.exec(
      url.pathname,
    );
    const podsPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    if (jobsPath && req.method === "POST" && !jobsPath[2]) {
      const manifest = JSON.parse(text) as Record<string, unknown> & {
        metadata: { name: string };
        spec: {
          template: {
            metadata?: { labels?: Record<string, string> };
            spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> };
          };
        };
      };
      try {
        new Job(manifest as never).validate();
      } catch (error) {
        violations.push(`Job ${manifest.metadata?.name}: ${(error as Error).message}`);
        return status(res, 422, "Invalid", (error as Error).message);
      }
      const namespace = jobsPath[1]!;
      if (jobs.some((j) => j.name === manifest.metadata.name && j.namespace === namespace && !j.deleted))
        return status(res, 409, "AlreadyExists", `jobs.batch "${manifest.metadata.name}" already exists`);
      const container = manifest.spec.template.spec.containers[0] as {
        env?: Array<{ name: string; value?: string }>;
      };
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? ""]));
      const pod: StubPod = {
        name: `${manifest.metadata.name}-${Math.random().toString(36).slice(2, 7)}`,
        namespace,
        labels: manifest.spec.template.metadata?.labels ?? {},
        env,
        process: undefined,
        phase: "Pending",
      };
      const job: StubJob = { name: manifest.metadata.name, namespace, manifest, pod, deleted: false };
      jobs.push(job);
      const mode = stub.nextJob;
      stub.nextJob = "run";
      if (mode === "image-pull")
        pod.waiting = {
          reason: "ImagePullBackOff",
          message: 'Back-off pulling image "registry.example.com/etl:3"',
        };
      else if (mode === "unschedulable") pod.unschedulable = "0/3 nodes are available: 3 Insufficient cpu.";
      else {
        const container = (
          job.manifest as { spec?: { template?: { spec?: { containers?: Array<{ command?: string[] }> } } } }
        ).spec?.template?.spec?.containers?.[0];
        const [file, ...args] =
          typeof options.command === "function" ? options.command(container?.command ?? []) : options.command;
        const child = spawn(file!, args, {
          env: { ...process.env, ...options.env, ...env },
          stdio: "ignore",
        });
        pod.process = child;
        child.once("spawn", () => {
          if (pod.phase === "Pending") pod.phase = "Running";
        });
        child.once("exit", (exitCode, signal) => {
          if (pod.phase === "Failed") return; // evicted or killed by the test: said already
          const codeOf = exitCode ?? (signal === "SIGKILL" ? 137 : 143);
          pod.phase = codeOf === 0 ? "Succeeded" : "Failed";
          pod.terminated ??= { exitCode: codeOf, reason: codeOf === 0 ? "Completed" : "Error" };
        });
      }
      res.writeHead(201, { "content-type": "application/json" });
      return res.end(JSON.stringify(jobJson(job)));
    }
    if (jobsPath?.[2] && (req.method === "GET" || req.method === "DELETE")) {
      const job = jobs.find((j) => j.name === jobsPath[2] && j.namespace === jobsPath[1] && !j.deleted);
      if (!job) return status(res, 404, "NotFound", `jobs.batch "${jobsPath[2]}" not found`);
      if (req.method === "DELETE") {
        job.deleted = true;
        job.pod.process?.kill("SIGTERM");
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Success" }));
      }
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(jobJson(job)));
    }
    if (podsPath && req.method === "GET") {
      const wanted = (url.searchParams.get("labelSelector") ?? "")
        .split(",")
        .filter(Boolean)
        .map((kv) => kv.split("=") as [string, string | undefined]);
      const items = jobs
        .filter((j) => !j.deleted && j.namespace === podsPath[1])
        .map((j) => j.pod)
        // `key=value`, or `!key`: no such label.
        .filter((p) =>
          wanted.every(([k, v]) =>
            v === undefined && k.startsWith("!") ? !(k.slice(1) in p.labels) : p.labels[k] === v,
          ),
        )
        .map(podJson);
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ apiVersion: "v1", kind: "PodList", metadata: {}, items }));
    }
    return status(res, 404, "NotFound", `${req.method} ${url.pathname} is not stubbed`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  stub = {
    url: `http://127.0.0.1:${port}`,
    token,
    jobs,
    requests,
    violations,
    nextJob: "run",
    evict(pod) {
      pod.phase = "Failed";
      pod.reason = "Evicted";
      pod.message = "The node was low on resource: memory.";
      pod.process?.kill("SIGKILL");
    },
    oomKill(pod) {
      pod.phase = "Failed";
      pod.terminated = { exitCode: 137, reason: "OOMKilled" };
      pod.process?.kill("SIGKILL");
    },
    async close() {
      for (const j of jobs) j.pod.process?.kill("SIGKILL");
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return stub;
}
