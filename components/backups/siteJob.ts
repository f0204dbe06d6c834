import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { serviceAccountTrust } from "../platform/irsa";
import { TTL_SECONDS_AFTER_FINISHED } from "./cronJobs";
import { backupPodSpec } from "./pod";
import { NODE_DISK_GIB } from "./resources";

/**
 * What every scheduled drctl job of a site is made of besides its own policy and command: an IRSA
 * role trusted only for the job's ServiceAccount, that ServiceAccount (regional STS, no token
 * mounted in pods that do not ask for one), and a CronJob that runs one locked-down drctl
 * container (./pod.ts) without retries and never two at once. The point-in-time tests, the
 * data-at-risk monitor and the AWS Backup restore-test check are built from it.
 */

export interface SiteJobIdentityArgs {
  /** The drctl command, for the role's description. */
  readonly command: string;
  /** `app.kubernetes.io/component` of the ServiceAccount and the job's pods. */
  readonly component: string;
  readonly serviceAccountName: string;
  readonly namespace: pulumi.Input<string>;
  /** Namespace name as a plain string, for the trust policy's `sub`. */
  readonly namespaceName: string;
  readonly oidcProviderArn: pulumi.Input<string>;
  readonly oidcIssuer: pulumi.Input<string>;
  /** The role's inline policy document. */
  readonly policy: pulumi.Input<string>;
  readonly provider: k8s.Provider;
  readonly tags: Record<string, string>;
}

export interface SiteJobIdentity {
  readonly serviceAccountName: string;
  readonly role: aws.iam.Role;
  readonly serviceAccount: k8s.core.v1.ServiceAccount;
  readonly labels: Record<string, string>;
}

/** `<name>-irsa` role and inline policy, `<name>-sa` ServiceAccount, children of `parent`. */
export function siteJobIdentity(
  name: string,
  args: SiteJobIdentityArgs,
  parent: pulumi.Resource,
): SiteJobIdentity {
  const labels = {
    "app.kubernetes.io/name": "drctl",
    "app.kubernetes.io/part-of": "dr-stack",
    "app.kubernetes.io/component": args.component,
  };
  const role = new aws.iam.Role(
    `${name}-irsa`,
    {
      description: `drctl ${args.command} in ${args.namespaceName}/${args.serviceAccountName}`,
      assumeRolePolicy: serviceAccountTrust(
        args.oidcProviderArn,
        args.oidcIssuer,
        args.namespaceName,
        args.serviceAccountName,
      ),
      tags: args.tags,
    },
    { parent },
  );
  new aws.iam.RolePolicy(`${name}-irsa`, { role: role.name, policy: args.policy }, { parent });
  const serviceAccount = new k8s.core.v1.ServiceAccount(
    `${name}-sa`,
    {
      metadata: {
        name: args.serviceAccountName,
        namespace: args.namespace,
        labels,
        annotations: {
          "eks.amazonaws.com/role-arn": role.arn,
          // Regional STS: the DR region's jobs must not depend on the global endpoint.
          "eks.amazonaws.com/sts-regional-endpoints": "true",
        },
      },
      automountServiceAccountToken: false,
    },
    { provider: args.provider, parent },
  );
  return { serviceAccountName: args.serviceAccountName, role, serviceAccount, labels };
}

/**
 * A check's container: a few connections, queries and API calls, no dump. Its ephemeral-storage
 * limit is the node-disk budget of a check (NODE_DISK_GIB.restoreCheck).
 */
export const CHECK_JOB_RESOURCES: k8s.types.input.core.v1.ResourceRequirements = {
  requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
  limits: {
    cpu: "500m",
    memory: "512Mi",
    "ephemeral-storage": `${NODE_DISK_GIB.restoreCheck * 1024}Mi`,
  },
};

export interface SiteCronJobArgs {
  /** The CronJob's Kubernetes name. */
  readonly jobName: string;
  readonly namespace: pulumi.Input<string>;
  readonly identity: SiteJobIdentity;
  readonly schedule: string;
  readonly timeZone: string;
  readonly suspend: boolean;
  readonly startingDeadlineSeconds: number;
  readonly successfulJobsHistoryLimit: number;
  readonly activeDeadlineSeconds: number;
  /** @default TTL_SECONDS_AFTER_FINISHED */
  readonly ttlSecondsAfterFinished?: number;
  readonly image: string;
  readonly args: string[];
  readonly env: k8s.types.input.core.v1.EnvVar[];
  readonly resources: k8s.types.input.core.v1.ResourceRequirements;
  readonly provider: k8s.Provider;
}

/**
 * One drctl CronJob: `concurrencyPolicy: Forbid`, no retry (`backoffLimit: 0`: the next scheduled
 * run is the retry, and a failed test is a report), three failed Jobs kept, 64 MiB of /tmp.
 */
export function siteCronJob(
  resourceName: string,
  a: SiteCronJobArgs,
  parent: pulumi.Resource,
): k8s.batch.v1.CronJob {
  const labels = a.identity.labels;
  return new k8s.batch.v1.CronJob(
    resourceName,
    {
      metadata: { name: a.jobName, namespace: a.namespace, labels },
      spec: {
        schedule: a.schedule,
        timeZone: a.timeZone,
        suspend: a.suspend,
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: a.startingDeadlineSeconds,
        successfulJobsHistoryLimit: a.successfulJobsHistoryLimit,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit: 0,
            activeDeadlineSeconds: a.activeDeadlineSeconds,
            ttlSecondsAfterFinished: a.ttlSecondsAfterFinished ?? TTL_SECONDS_AFTER_FINISHED,
            template: {
              metadata: { labels },
              spec: backupPodSpec({
                serviceAccount: a.identity.serviceAccountName,
                tmp: { kind: "emptyDir", sizeLimit: "64Mi" },
                drctl: { image: a.image, args: a.args, env: a.env, resources: a.resources },
              }),
            },
          },
        },
      },
    },
    { provider: a.provider, parent, dependsOn: [a.identity.serviceAccount] },
  );
}
