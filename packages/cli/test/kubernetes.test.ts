import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { graphqlData, REGENT_BIN, startRegentProcess, regentTest as test } from "@regent/testkit";
import { type K8sStub, startK8sStub } from "@regent/testkit/k8s-stub";
import { afterEach, expect } from "vitest";
import { startServerWithFlows, useServerDatabases } from "./helpers.js";

// `regent agent kubernetes start` as users run it, its cluster from a kubeconfig file ($KUBECONFIG) that
// points at a local stand-in of the Kubernetes API; each Job's pod is the real `regent execute flow-run`.

const dbFor = useServerDatabases();
const fixture = new URL("./fixtures/kubernetes/on-k8s.ts", import.meta.url).pathname;
const clusterFixture = new URL("./fixtures/kubernetes-cluster/wide-k8s.ts", import.meta.url).pathname;
let stub: K8sStub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

/** A kubeconfig file pointing at the stub, its context's namespace `flows`. */
function writeKubeconfig(path: string, k8s: K8sStub): void {
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{ name: stub, cluster: { server: "${k8s.url}", insecure-skip-tls-verify: true } }]
users: [{ name: agent, user: { token: ${k8s.token} } }]
contexts: [{ name: stub, context: { cluster: stub, user: agent, namespace: flows } }]
current-context: stub
`,
  );
}

test("a Kubernetes agent runs a flow as a Job from its template, with per-run resources", async ({
  cli,
  tmp,
}) => {
  stub = await startK8sStub({
    command: [process.execPath, REGENT_BIN, "execute", "flow-run"],
    env: { NO_COLOR: "1" },
  });
  const kubeconfig = join(tmp, "kubeconfig.yaml");
  writeKubeconfig(kubeconfig, stub);
  const template = join(tmp, "job.yaml");
  writeFileSync(
    template,
    `apiVersion: batch/v1
kind: Job
metadata: { labels: { team: data } }
spec:
  activeDeadlineSeconds: 7200
  template:
    spec:
      nodeSelector: { eks.amazonaws.com/compute-type: fargate }
      containers: [{ name: flow }]
`,
  );
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), fixture);
  const agent = startRegentProcess(
    [
      ...["agent", "kubernetes", "start", "--label", "k8s", "--namespace", "flows"],
      ...["--job-template", template, "--service-account-name", "regent-flow", "--api", api],
    ],
    { KUBECONFIG: kubeconfig },
  );
  await agent.waitFor(/Regent Kubernetes agent .*: waiting for flow runs labelled k8s, namespace flows/);
  const run = await cli([
    ...["run", "--name", "on-k8s", "--project", "demo"],
    ...["--run-config", '{"memoryLimit": "2Gi"}', "--watch", "--api", api],
  ]);
  expect(run.code, run.stdout + run.stderr + agent.output()).toBe(0);
  expect(run.stdout).toContain("in a pod, stage prod");
  expect(stub.violations).toEqual([]);
  const job = stub.jobs[0]!.manifest as {
    metadata: { namespace: string; labels: Record<string, string> };
    spec: {
      activeDeadlineSeconds: number;
      template: { spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } };
    };
  };
  expect(job.metadata.namespace).toBe("flows");
  expect(job.metadata.labels.team).toBe("data");
  expect(job.spec.activeDeadlineSeconds).toBe(7200);
  expect(job.spec.template.spec).toMatchObject({
    serviceAccountName: "regent-flow",
    nodeSelector: { "eks.amazonaws.com/compute-type": "fargate" },
  });
  expect(job.spec.template.spec.containers[0]).toMatchObject({
    resources: { requests: { cpu: "250m" }, limits: { memory: "2Gi" } },
  });
}, 120_000);

test("a wide flow fans out over worker pods its own pod starts as Jobs, deleted when the run ends", async ({
  cli,
  tmp,
}) => {
  const kubeconfig = join(tmp, "kubeconfig.yaml");
  // Each pod runs its container's command (`regent …`) as the built CLI; the flow's pod reaches the
  // Kubernetes API with the same kubeconfig, as an in-cluster pod would with its service account.
  stub = await startK8sStub({
    command: (command) => [process.execPath, REGENT_BIN, ...command.slice(1)],
    env: { NO_COLOR: "1", KUBECONFIG: kubeconfig },
  });
  writeKubeconfig(kubeconfig, stub);
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), clusterFixture);
  const agent = startRegentProcess(["agent", "kubernetes", "start", "--label", "k8s", "--api", api], {
    KUBECONFIG: kubeconfig,
  });
  await agent.waitFor(/Regent Kubernetes agent .*: waiting for flow runs labelled k8s/);
  const run = await cli([
    "run",
    "--name",
    "wide-k8s",
    "--project",
    "demo",
    "--watch",
    "--json",
    "--api",
    api,
  ]);
  expect(run.code, run.stdout + run.stderr + agent.output()).toBe(0);
  const { flow_run } = await graphqlData(
    api,
    `{ flow_run(where: { flow: { name: { _eq: "wide-k8s" } } }) { id state states(order_by: [{ version: desc }], limit: 1) { data } } }`,
  );
  expect(flow_run[0].state).toBe("Success");
  const result = flow_run[0].states[0].data.result as {
    wrong: number;
    workers: number;
    pids: number[];
    flowPid: number;
  };
  expect(result).toMatchObject({ wrong: 0, workers: 2 });
  expect(result.pids).not.toContain(result.flowPid);

  expect(stub.violations).toEqual([]);
  const workers = stub.jobs.filter(
    (j) =>
      (j.manifest as { metadata: { labels: Record<string, string> } }).metadata.labels["regent.io/worker-id"],
  );
  expect(workers).toHaveLength(2);
  const id = flow_run[0].id as string;
  for (const job of workers) {
    const manifest = job.manifest as {
      metadata: { name: string; namespace: string; labels: Record<string, string> };
      spec: {
        template: { spec: { containers: Array<{ command: string[]; resources: unknown; image: string }> } };
      };
    };
    expect(manifest.metadata.name).toMatch(new RegExp(`^regent-${id}-0-w\\d+$`));
    expect(manifest.metadata.namespace).toBe("flows");
    expect(manifest.metadata.labels["regent.io/flow-run-id"]).toBe(id);
    const container = manifest.spec.template.spec.containers[0]!;
    expect(container.command.slice(0, 4)).toEqual(["regent", "worker", "--flow-run", id]);
    // The infra's resources over the flow's run config; the flow's image.
    expect(container.resources).toEqual({ requests: { cpu: "1" }, limits: { memory: "1Gi" } });
    expect(container.image).toBe("registry.example.com:5000/regent/runtime:0.1.0");
    expect(job.deleted).toBe(true);
  }
}, 120_000);

test("regent agent kubernetes start refuses a bad template or flag, saying which", async ({ cli, tmp }) => {
  const bad = join(tmp, "bad.yaml");
  writeFileSync(bad, "- not a job\n");
  const template = await cli(["agent", "kubernetes", "start", "--job-template", bad]);
  expect(template.code).not.toBe(0);
  expect(template.stderr).toContain(`--job-template ${bad}: not a Job (a YAML or JSON object)`);
  const namespace = await cli(["agent", "kubernetes", "start", "--namespace", "Flows"]);
  expect(namespace.code).not.toBe(0);
  expect(namespace.stderr).toMatch(/--namespace: a namespace name: lowercase letters, digits and -/);
});
