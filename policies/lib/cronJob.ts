import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

export type CronJobSpec = pulumi.Unwrap<k8s.batch.v1.CronJobArgs>;
type Container = pulumi.Unwrap<k8s.types.input.core.v1.Container>;

/** Every container of a CronJob's pod, init containers first. */
export function containers(job: CronJobSpec): Container[] {
  const pod = job.spec?.jobTemplate?.spec?.template?.spec;
  return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
}

/**
 * A container's environment as literal values. A variable set through `valueFrom` (a ConfigMap or
 * Secret) maps to `undefined`: its value is not in the program, so a rule cannot vouch for it.
 */
export function envOf(c: Container): Map<string, string | undefined> {
  return new Map((c.env ?? []).map((e) => [e.name, e.valueFrom ? undefined : e.value]));
}

export function jobName(job: CronJobSpec): string {
  return job.metadata?.name ?? "(unnamed)";
}
