import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SITE_JOBS_NODE_DISK_GIB } from "../components/backups/resources";
import { ROLES } from "../components/config";
import { NODE_SYSTEM_GB, nodeDiskFloorGb } from "../components/config/checks";
import { ROOT, runStack, stackFileConfig, type RegisteredResource } from "./harness";

/**
 * Would the API server accept every Kubernetes object the program registers (issue 13)? Each is
 * validated against the OpenAPI schema of the cluster's Kubernetes version with
 * kubernetes-models, whose validators are compiled from that version's published schema
 * (required fields, types, enums, formats such as resource quantities and int-or-string).
 *
 * kubernetes-models 4.5.x is generated from Kubernetes v1.33.0 (its CHANGELOG, "Update schema
 * version to v1.33.0"); 5.x moved to v1.36 and needs Node 22. The schema's own version must be
 * the cluster's: this table says which release holds which, and the test fails when the stack
 * files' `cluster.version` moves past it, saying what to upgrade.
 * https://github.com/tommy351/kubernetes-models-ts/blob/master/first-party/kubernetes-models/CHANGELOG.md
 *
 * What it does not catch: the generated validators allow properties the schema does not name
 * (the API server's strict field validation would refuse a misspelt field); the typed inputs of
 * @pulumi/kubernetes catch those at compile time instead.
 */
const SCHEMA_VERSION_OF_RELEASE: Record<string, string> = { "4.5.1": "1.33" };

function modelsRelease(): string {
  const pkg = JSON.parse(
    readFileSync(join(ROOT, "node_modules", "kubernetes-models", "package.json"), "utf8"),
  ) as { version: string };
  return pkg.version;
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: Record<string, unknown>) => Validatable;

/** `kubernetes:batch/v1:CronJob` → the kubernetes-models class for batch/v1 CronJob. */
function modelFor(type: string): ModelClass {
  const m = /^kubernetes:([^:]+):([A-Za-z]+)$/.exec(type);
  if (!m) throw new Error(`not a Kubernetes type token: ${type}`);
  const groupVersion = m[1].replace(/^core\//, "");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`kubernetes-models/${groupVersion}/${m[2]}`) as Record<string, ModelClass>;
  const model = mod[m[2]];
  if (!model) throw new Error(`kubernetes-models has no ${groupVersion} ${m[2]}`);
  return model;
}

function schemaErrors(r: RegisteredResource): string | undefined {
  const Model = modelFor(r.type);
  try {
    new Model(r.inputs).validate();
    return undefined;
  } catch (err) {
    return `${r.type} ${r.name}: ${(err as Error).message}`;
  }
}

const kubernetesObjects = (resources: RegisteredResource[]) =>
  resources.filter((r) => r.type.startsWith("kubernetes:"));

describe("every Kubernetes object validates against the cluster version's OpenAPI schema", () => {
  it("uses a kubernetes-models release generated from the stacks' cluster version", () => {
    const release = modelsRelease();
    const schemaVersion = SCHEMA_VERSION_OF_RELEASE[release];
    expect(schemaVersion, `no schema version known for kubernetes-models ${release}`).toBeDefined();
    for (const stack of ["primary", "dr"] as const) {
      const cluster = stackFileConfig(stack)["dr-stack:cluster"] as { version: string };
      expect(
        cluster.version,
        `Pulumi.${stack}.yaml runs Kubernetes ${cluster.version}; install the kubernetes-models ` +
          `release generated from it and add it to SCHEMA_VERSION_OF_RELEASE`,
      ).toBe(schemaVersion);
    }
  });

  for (const stack of ["primary", "dr"] as const) {
    it(`${stack}: in every role`, async () => {
      for (const role of ROLES) {
        const run = await runStack(stack, { role });
        const objects = kubernetesObjects(run.resources);
        // Namespace, 3 ServiceAccounts, StorageClass, 6 CronJobs, NetworkPolicy; the restore-test
        // check's ServiceAccount and CronJob; the point-in-time tests' ServiceAccount and two
        // CronJobs; the data-at-risk monitor's ServiceAccount and CronJob; the applications'
        // Namespace and database Secret.
        expect(objects.map((o) => o.type).sort(), role).toEqual([
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:batch/v1:CronJob",
          "kubernetes:core/v1:Namespace",
          "kubernetes:core/v1:Namespace",
          "kubernetes:core/v1:Secret",
          "kubernetes:core/v1:ServiceAccount",
          "kubernetes:core/v1:ServiceAccount",
          "kubernetes:core/v1:ServiceAccount",
          "kubernetes:core/v1:ServiceAccount",
          "kubernetes:core/v1:ServiceAccount",
          "kubernetes:core/v1:ServiceAccount",
          "kubernetes:networking.k8s.io/v1:NetworkPolicy",
          "kubernetes:storage.k8s.io/v1:StorageClass",
        ]);
        expect(objects.map(schemaErrors).filter(Boolean), role).toEqual([]);
      }
    });
  }

  it("keeps every CronJob pod's node-disk limits within the cluster.nodeDiskSizeGb floor", async () => {
    const run = await runStack("primary");
    const gib = (q: string) => {
      const m = /^(\d+)(Mi|Gi)$/.exec(q);
      if (!m) throw new Error(`unexpected ephemeral-storage quantity ${q}`);
      return Number(m[1]) / (m[2] === "Mi" ? 1024 : 1);
    };
    const limitOf = (c: any): number => gib(c.resources.limits["ephemeral-storage"]);
    const pods = run
      .ofType("kubernetes:batch/v1:CronJob")
      .map((cj) => cj.inputs.spec.jobTemplate.spec.template.spec);
    const limits = pods.flatMap((pod) => pod.containers.map(limitOf));
    // The app containers (the drill's scratch server is a sidecar): the figure the floor is built
    // from (components/backups/resources.ts), so a new job moves the floor.
    expect(limits).toHaveLength(10);
    // An init container runs before the app containers, so a pod's effective limit is the larger
    // of its largest init container and the sum of its app containers:
    // https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers
    const total = pods
      .map((pod) =>
        Math.max(
          Math.max(0, ...(pod.initContainers ?? []).map(limitOf)),
          pod.containers.map(limitOf).reduce((a: number, b: number) => a + b, 0),
        ),
      )
      .reduce((a: number, b: number) => a + b, 0);
    // The floor covers every pod's effective limit at once (it counts the monthly check's init
    // container as a seventh drctl container, 1 GiB of headroom).
    expect(total).toBe(12.5);
    expect(total).toBeLessThanOrEqual(SITE_JOBS_NODE_DISK_GIB);
    expect(nodeDiskFloorGb()).toBe(NODE_SYSTEM_GB + Math.ceil(SITE_JOBS_NODE_DISK_GIB));
  });

  it("is not a validator that accepts anything: a malformed quantity or a missing name fails", async () => {
    const run = await runStack("primary");
    const drill = run
      .ofType("kubernetes:batch/v1:CronJob")
      .find((c) => c.inputs.metadata.name === "restore-drill") as RegisteredResource;
    const mutate = (edit: (pod: any) => void): RegisteredResource => {
      const inputs = structuredClone(drill.inputs);
      edit(inputs.spec.jobTemplate.spec.template.spec);
      return { ...drill, inputs };
    };
    expect(
      schemaErrors(
        mutate((pod) => (pod.containers[0].resources.limits["ephemeral-storage"] = "2 GB")),
      ),
    ).toContain('must match format "quantity"');
    expect(schemaErrors(mutate((pod) => delete pod.containers[0].name))).toContain(
      "containers/0 must have required property name",
    );
    expect(
      schemaErrors(
        mutate(
          (pod) =>
            delete pod.volumes.find((v: any) => v.name === "pgdata").ephemeral.volumeClaimTemplate
              .spec,
        ),
      ),
    ).toContain("volumeClaimTemplate must have required property spec");
  });
});
