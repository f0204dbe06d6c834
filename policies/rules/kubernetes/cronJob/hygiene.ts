import * as k8s from "@pulumi/kubernetes";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * Backup and drill CronJobs forbid overlapping runs, run as non-root and declare resources.
 *
 * Severity: medium; enforcement: advisory. Two dumps of one tier racing write two manifests for
 * one schedule slot and double the load on the database; a container without requests is the
 * first evicted under node pressure, mid-dump; root in a container is one escape from the node.
 * https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#concurrency-policy
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 */
export const drKubernetesCronJobHygiene: ResourceValidationPolicy = {
  name: "dr-kubernetes-cronjob-hygiene",
  description:
    "CronJobs forbid concurrent runs, run as non-root and set resource requests and limits.",
  enforcementLevel: "advisory",
  severity: "medium",
  url: "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/",
  validateResource: validateResourceOfType(k8s.batch.v1.CronJob, (job, _args, reportViolation) => {
    const name = job.metadata?.name ?? "(unnamed)";
    if (job.spec?.concurrencyPolicy !== "Forbid") {
      reportViolation(
        `CronJob ${name} has concurrencyPolicy ${job.spec?.concurrencyPolicy ?? "unset (Allow)"}; set "Forbid"`,
      );
    }
    const pod = job.spec?.jobTemplate?.spec?.template?.spec;
    const podNonRoot = pod?.securityContext?.runAsNonRoot === true;
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      const nonRoot = c.securityContext?.runAsNonRoot ?? podNonRoot;
      if (nonRoot !== true) {
        reportViolation(
          `CronJob ${name} container ${c.name} may run as root; set securityContext.runAsNonRoot true`,
        );
      }
      const { requests, limits } = c.resources ?? {};
      if (!requests?.cpu || !requests.memory || !limits?.memory) {
        reportViolation(
          `CronJob ${name} container ${c.name} does not set resources (requests.cpu, ` +
            `requests.memory and limits.memory)`,
        );
      }
    }
  }),
};
