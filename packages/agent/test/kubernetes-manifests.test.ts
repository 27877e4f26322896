import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, test } from "vitest";
import { parseAllDocuments } from "yaml";

// Every manifest in deploy/kubernetes/ against the Kubernetes OpenAPI schema (kubernetes-models'
// validation), and the agent's Role against what the Kubernetes launcher calls.

const DIR = new URL("../../../deploy/kubernetes/", import.meta.url).pathname;
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
};
const manifests = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml") && f !== "eks-fargate-profile.yaml")
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((doc) => ({
      file,
      manifest: doc.toJS() as {
        apiVersion: string;
        kind: string;
        metadata: { name: string; namespace?: string };
      } & Record<string, unknown>,
    })),
  );

describe("deploy/kubernetes", () => {
  test.for(manifests.map((m) => [`${m.file}: ${m.manifest.kind} ${m.manifest.metadata.name}`, m] as const))(
    "%s fits the Kubernetes schema",
    ([, { manifest }]) => {
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      expect(Model, `a model for ${manifest.apiVersion} ${manifest.kind}`).toBeDefined();
      expect(() => new Model!(manifest as never).validate()).not.toThrow();
      if (manifest.kind !== "Namespace") expect(manifest.metadata.namespace).toBe("regent");
    },
  );

  test("the agent's Role allows what the launcher calls, in its namespace only, and nothing more", () => {
    const allowed = allowedBy("regent-agent");
    // createNamespacedJob, readNamespacedJobStatus, deleteNamespacedJob, listNamespacedPod.
    expect(allowed).toEqual(
      expect.arrayContaining(["jobs:create", "jobs/status:get", "jobs:delete", "pods:list"]),
    );
    expect(allowed.some((a) => a.startsWith("*") || a.endsWith(":*"))).toBe(false);
    expect(allowed.some((a) => a.startsWith("secrets") || a.startsWith("pods:create"))).toBe(false);
    expect(manifests.some((m) => m.manifest.kind === "ClusterRole")).toBe(false);
  });

  test("the Role of flows with cluster workers allows exactly what starting and watching worker Jobs calls", () => {
    expect(allowedBy("regent-flow-cluster").sort()).toEqual(
      ["jobs:create", "jobs:delete", "jobs/status:get", "pods:list"].sort(),
    );
  });
});

/** What a Role of deploy/kubernetes allows, as `resource:verb`. */
function allowedBy(name: string): string[] {
  const role = manifests.find((m) => m.manifest.kind === "Role" && m.manifest.metadata.name === name)!
    .manifest as unknown as { rules: Array<{ resources: string[]; verbs: string[] }> };
  return role.rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)));
}
