import { KubeConfig } from "@kubernetes/client-node";
import { type K8sStub, startK8sStub } from "@regent/testkit/k8s-stub";
import { afterEach, describe, expect } from "vitest";
import { type KubernetesAgent, type KubernetesAgentOptions, startKubernetesAgent } from "../src/index.js";
import { agentTest, FAKE_EXECUTOR, waitFor } from "./helpers.js";

// The Kubernetes agent through the official client (@kubernetes/client-node 1.x), unchanged, against a
// local stand-in of the Kubernetes API that checks each Job against the Kubernetes schema and runs its
// pod as a real process (testkit's k8s-stub).

const test = agentTest("sqlite");
const IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/flows/etl@sha256:abc";

describe("kubernetes agent", () => {
  let stub: K8sStub | undefined;
  const agents: KubernetesAgent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await stub?.close();
    stub = undefined;
  });

  const start = async (h: { server: { url: string } }, options: Partial<KubernetesAgentOptions> = {}) => {
    stub = await startK8sStub({ command: [process.execPath, FAKE_EXECUTOR] });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: "stub", server: stub.url, skipTLSVerify: true }],
      users: [{ name: "agent", token: stub.token }],
      contexts: [{ name: "stub", cluster: "stub", user: "agent" }],
      currentContext: "stub",
    });
    const lines: string[] = [];
    const agent = await startKubernetesAgent({
      apiUrl: h.server.url,
      name: "k8s-1",
      labels: ["prod"],
      kubeConfig,
      defaults: { namespace: "flows", serviceAccountName: "regent-flow" },
      jobPollMs: 50,
      pollIntervalMs: 60_000,
      heartbeatMs: 60_000,
      stopTimeoutMs: 5_000,
      log: (line) => lines.push(line),
      ...options,
    });
    agents.push(agent);
    return { stub, lines };
  };

  test("runs a flow run as a Job with its resources, service account, pull secrets and token; deletes it after", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("on-k8s", {
      run_config: {
        type: "kubernetes",
        image: IMAGE,
        cpuRequest: "250m",
        memoryRequest: "256Mi",
        memoryLimit: "512Mi",
        imagePullSecrets: ["registry"],
        env: { STAGE: "prod" },
        jobTemplate: { spec: { activeDeadlineSeconds: 3600 } },
      },
    });
    const { stub } = await start(h);
    const run = await h.createRun(flowId, { run_config: { cpuLimit: "1", memoryLimit: "1Gi" } });
    await h.waitForState(run.id, "Success", 30_000);
    const token = await h.server.store.runTokens.mint(run.id);
    await waitFor("the job to be deleted", () => (stub.jobs[0]!.deleted ? true : undefined));

    expect(stub.violations).toEqual([]);
    const job = stub.jobs[0]!.manifest as any;
    expect(job.metadata).toMatchObject({
      name: `regent-${run.id}-0`,
      namespace: "flows",
      labels: { "regent.io/flow-run-id": run.id, "regent.io/flow-id": flowId, "regent.io/execution": "0" },
    });
    expect(job.spec).toMatchObject({
      backoffLimit: 0,
      activeDeadlineSeconds: 3600,
      ttlSecondsAfterFinished: 600,
    });
    expect(job.spec.template.spec).toMatchObject({
      restartPolicy: "Never",
      serviceAccountName: "regent-flow",
      imagePullSecrets: [{ name: "registry" }],
    });
    const [container] = job.spec.template.spec.containers;
    expect(container).toMatchObject({
      name: "flow",
      image: IMAGE,
      command: ["regent", "execute", "flow-run"],
      // The run's own limits over the flow's; the flow's requests kept.
      resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
    });
    expect(stub.jobs[0]!.pod.env).toEqual({
      STAGE: "prod",
      REGENT__API: h.server.url,
      REGENT__FLOW_RUN_ID: run.id,
      REGENT__API_KEY: token,
    });
  });

  test("eviction and OOMKilled are infrastructure failures with Kubernetes' reason; the next execution gets a new Job", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("evicted", {
      run_config: { type: "kubernetes", image: IMAGE, memoryLimit: "64Mi", env: { FAKE_MODE: "sleep" } },
      max_restarts: 1,
    });
    const { stub } = await start(h);
    const run = await h.createRun(flowId);
    await h.waitForState(run.id, "Running", 30_000);
    stub.evict(stub.jobs[0]!.pod);
    await waitFor("a second job", () => stub.jobs[1]);
    expect(stub.jobs[1]!.name).toBe(`regent-${run.id}-1`);
    const rescheduled = await h.stateData(run.id, "Scheduled");
    expect(rescheduled.message).toMatch(
      /the Kubernetes job was evicted \(Evicted: The node was low on resource: memory\.\) without reaching a final state/,
    );
    await h.waitForState(run.id, "Running", 30_000);
    stub.oomKill(stub.jobs[1]!.pod);
    const failed = await h.waitForState(run.id, "Failed", 30_000);
    expect(failed.state_message).toMatch(
      /the Kubernetes job was killed for using more memory than its limit of 64Mi \(OOMKilled\)/,
    );
    expect(stub.violations).toEqual([]);
  });

  test("an image that will not pull fails the run with Kubernetes' words; an unschedulable pod is said once and waits", async ({
    h,
  }) => {
    const flowId = await h.seedFlow("no-pull", {
      run_config: { type: "kubernetes", image: IMAGE },
      max_restarts: 0,
    });
    const { stub, lines } = await start(h);
    stub.nextJob = "image-pull";
    const pull = await h.createRun(flowId);
    const failed = await h.waitForState(pull.id, "Failed", 30_000);
    expect(failed.state_message).toMatch(
      /the Kubernetes job could not be started: ImagePullBackOff: Back-off pulling image "registry.example.com\/etl:3"/,
    );
    await waitFor("the job to be deleted", () => (stub.jobs[0]!.deleted ? true : undefined));

    stub.nextJob = "unschedulable";
    const pending = await h.createRun(flowId);
    await waitFor("the agent to say why it waits", () =>
      lines.find((l) =>
        l.includes("is pending: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(lines.filter((l) => l.includes("is pending"))).toHaveLength(1);
    expect((await h.run(pending.id)).state).toBe("Submitted");
    expect(stub.violations).toEqual([]);
  });
});
