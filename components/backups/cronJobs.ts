import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Role, Tier } from "../config";
import { EBS_CSI } from "../platform/ebsCsi";
import { backupPodSpec, SCRATCH_CONTAINER, SCRATCH_URL, type ScratchVolume } from "./pod";
import { jobsEgressPolicy } from "./egress";
import { drctlResources, scratchResources, scratchServerSettings } from "./resources";
import type { BackupJobPurpose } from "../naming";
import { storageBytes } from "../quantity";
import { cronError, isIanaTimeZone, parseCidr } from "../validation";

export interface BackupSchedules {
  readonly daily: string;
  readonly weekly: string;
  readonly monthly: string;
  readonly verify: string;
  readonly drill: string;
  /** `drctl status`, which publishes the age metrics the alarms read. */
  readonly status: string;
}

export interface BackupCronJobsArgs {
  /** Kubernetes provider of this site's cluster (`Cluster.provider`). */
  readonly provider: k8s.Provider;
  /** This site's role: decides which CronJobs are suspended. */
  readonly role: Role;
  /** This site's region, for the AWS SDK in drctl. */
  readonly region: string;
  readonly namespace: string;
  /** One ServiceAccount per job purpose, each bound to its own IRSA role (docs/architecture.md §8). */
  readonly identities: Readonly<
    Record<
      BackupJobPurpose,
      { readonly serviceAccount: string; readonly roleArn: pulumi.Input<string> }
    >
  >;
  /** drctl image; pin a digest (`repo@sha256:…`). */
  readonly image: string;
  /** Scratch PostgreSQL image of the database's major version, pinned by digest. */
  readonly scratchImage: string;
  /**
   * Object Lock retention drctl sets on every object a tier's backup writes (create-only backups, docs/architecture.md §4).
   * @default undefined (the bucket has no Object Lock; no retention is set)
   */
  readonly objectLock?: {
    readonly mode: "GOVERNANCE" | "COMPLIANCE";
    readonly days: Readonly<Record<Tier, number>>;
  };
  readonly schedules: BackupSchedules;
  /** IANA zone the schedules are read in. @default "Etc/UTC" */
  readonly timeZone?: string;
  /** `s3://<bucket>/`: this site's backup bucket (on the standby, the replicated copies). */
  readonly store: string;
  /** Site key ARN: the bucket policy requires SSE-KMS with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly metricsNamespace: string;
  /** The site's VPC CIDR: the only place the database port may be reached. */
  readonly vpcCidr: string;
  /** Database host the backups dump from. Without it backups get no PGHOST. @default undefined */
  readonly databaseHost?: pulumi.Input<string>;
  /** Secret with the `backup` role's credentials, read by drctl at runtime. @default undefined */
  readonly databaseSecretArn?: pulumi.Input<string>;
  /** @default 5432 */
  readonly databasePort?: number;
  /** @default "app" */
  readonly databaseName?: string;

  /** SQL the drill runs on the restored copy. @default [] */
  readonly smokeSql?: string[];
  /** Size of each of the drill's scratch volumes (PGDATA, and the downloaded dump). @default "8Gi" */
  readonly drillScratchStorage?: string;
  /** gp3 IOPS and throughput (MiB/s) of each scratch volume. @default { iops: 3000, throughputMiBps: 125 } */
  readonly drillScratchPerformance?: { readonly iops: number; readonly throughputMiBps: number };
  /** The drill Job's activeDeadlineSeconds. @default JOB_TIMING.drill.activeDeadlineSeconds */
  readonly drillDeadlineSeconds?: number;
  /**
   * Parallel jobs of the backups' pg_dump and the drill's pg_restore (env DRCTL_JOBS, contract
   * C6); the containers' CPU and memory follow it. @default 1
   */
  readonly parallelJobs?: number;
}

/**
 * Database TLS (docs/architecture.md §8): libpq verifies the server's certificate against the RDS CA bundle the drctl image
 * ships, and that the host name matches it. `require` encrypts but accepts any certificate.
 * https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-SSLMODE-STATEMENTS
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html
 */
export const DATABASE_TLS = { sslMode: "verify-full", rootCert: "/etc/drctl/rds-ca.pem" } as const;

/** Name of the storage class the drill's scratch volumes are provisioned from. */
export const SCRATCH_STORAGE_CLASS = "drctl-scratch";

/** Which identity each kind of job runs as (docs/architecture.md §8). */
export const JOB_PURPOSE: Readonly<Record<JobKind, BackupJobPurpose>> = {
  backup: "writer",
  verify: "reader",
  status: "reader",
  drill: "drill",
};

/** Which CronJobs run in a role (docs/architecture.md §3): everything else is `suspend: true`. */
export function jobActivity(role: Role): { backups: boolean; drill: boolean } {
  return {
    // Only the primary has a writable source; a standby's replica would dump the same data
    // twice into two buckets that replication already keeps in step.
    backups: role === "primary",
    // The drill restores from the site's own bucket, so it proves each region's copy restores.
    // A fenced site may be the half of a split brain: it runs nothing.
    drill: role !== "fenced",
  };
}

/** Validates the args; messages name the argument. */
export function validateBackupCronJobsArgs(
  args: Pick<
    BackupCronJobsArgs,
    | "schedules"
    | "timeZone"
    | "vpcCidr"
    | "store"
    | "drillScratchStorage"
    | "parallelJobs"
    | "drillScratchPerformance"
  >,
): void {
  for (const [key, schedule] of Object.entries(args.schedules) as Array<[string, string]>) {
    const err = cronError(schedule);
    if (err) throw new Error(`[schedules.${key}] malformed cron "${schedule}": ${err}`);
  }
  const timeZone = args.timeZone ?? "Etc/UTC";
  if (!isIanaTimeZone(timeZone)) {
    throw new Error(`[timeZone] "${timeZone}" is not an IANA time zone such as Etc/UTC`);
  }
  if (!parseCidr(args.vpcCidr)) {
    throw new Error(`[vpcCidr] "${args.vpcCidr}" is not an IPv4 CIDR such as 10.10.0.0/16`);
  }
  if (!args.store.startsWith("s3://") || !args.store.endsWith("/")) {
    throw new Error(`[store] must look like s3://<bucket>/, got "${args.store}"`);
  }
  const scratch = storageBytes(args.drillScratchStorage ?? "8Gi");
  if ("problem" in scratch) throw new Error(`[drillScratchStorage] ${scratch.problem}`);
  const perf = args.drillScratchPerformance;
  if (perf) {
    // "500 IOPS per GiB" and "0.25 MiB/s per provisioned IOPS": EBS refuses the volume otherwise.
    // https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html#gp3-ebs-volume-type
    const gib = Number(scratch.bytes / 2n ** 30n);
    if (perf.iops > 500 * gib) {
      throw new Error(
        `[drillScratchPerformance.iops] ${perf.iops} IOPS need a volume of at least ${Math.ceil(perf.iops / 500)}Gi ` +
          `(500 IOPS per GiB), but drillScratchStorage is ${args.drillScratchStorage ?? "8Gi"}; lower the IOPS or raise the size`,
      );
    }
    if (perf.throughputMiBps > perf.iops / 4) {
      throw new Error(
        `[drillScratchPerformance.throughputMiBps] ${perf.throughputMiBps} MiB/s needs at least ` +
          `${perf.throughputMiBps * 4} IOPS (0.25 MiB/s per IOPS), got ${perf.iops}`,
      );
    }
  }
  const jobs = args.parallelJobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new Error(`[parallelJobs] must be a positive integer, got ${jobs}`);
  }
}

/** Timing and history per kind of job; each number says what it bounds. */
export const JOB_TIMING = {
  // Dumps stream, so the limit is the database size over S3 throughput: 6 h is ~1 TB at 50 MB/s.
  backup: { activeDeadlineSeconds: 6 * 3600, backoffLimit: 2, startingDeadlineSeconds: 3600 },
  verify: { activeDeadlineSeconds: 4 * 3600, backoffLimit: 1, startingDeadlineSeconds: 3600 },
  // No retry: a failed drill writes a failing report, and that report is the finding.
  drill: { activeDeadlineSeconds: 8 * 3600, backoffLimit: 0, startingDeadlineSeconds: 3600 },
  // Hourly and cheap (lists S3); a missed run is covered by the next one.
  status: { activeDeadlineSeconds: 600, backoffLimit: 0, startingDeadlineSeconds: 1800 },
} as const;
type JobKind = keyof typeof JOB_TIMING;

/** A week of finished Jobs (and their pods' logs) to look at after a failure. */
export const TTL_SECONDS_AFTER_FINISHED = 7 * 86400;

interface JobPlan {
  readonly key: string;
  readonly kind: JobKind;
  readonly schedule: string;
  readonly args: string[];
  readonly active: boolean;
  readonly tier?: Tier;
  /** drctl arguments of an init container that must pass before the job's own command runs. */
  readonly preflight?: string[];
}

/** The six CronJobs of a site: name, schedule, drctl arguments, and whether they run. */
export function jobPlans(role: Role, schedules: BackupSchedules): JobPlan[] {
  const active = jobActivity(role);
  const tiers: Tier[] = ["daily", "weekly", "monthly"];
  return [
    ...tiers.map((tier) => ({
      key: `backup-${tier}`,
      kind: "backup" as const,
      schedule: schedules[tier],
      args: ["backup", "--tier", tier],
      active: active.backups,
      tier,
      // Once a month the whole setup is proven (store, bucket protections, KMS, database, TLS,
      // pg_dump, row security, drill scratch) before the backup: a broken setup fails this job on
      // the 1st with one line per problem, instead of the next restore finding out.
      ...(tier === "monthly" ? { preflight: ["check"] } : {}),
    })),
    {
      key: "verify-daily",
      kind: "verify",
      schedule: schedules.verify,
      args: ["verify", "--latest", "--deep"],
      active: active.backups,
    },
    {
      key: "restore-drill",
      kind: "drill",
      schedule: schedules.drill,
      args: ["drill"],
      active: active.drill,
    },
    {
      key: "backup-status",
      kind: "status",
      schedule: schedules.status,
      args: ["status", "--json"],
      active: active.drill,
    },
  ];
}

/**
 * The backup, verify, status and restore-drill CronJobs of one site, their namespace, one
 * ServiceAccount per job purpose (each bound to its IRSA role), the drill's scratch storage class
 * and an egress-only NetworkPolicy.
 */
export class BackupCronJobs extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly cronJobNames: pulumi.Output<string[]>;

  constructor(name: string, args: BackupCronJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:BackupCronJobs", name, {}, opts);
    validateBackupCronJobsArgs(args);
    const timeZone = args.timeZone ?? "Etc/UTC";
    const databasePort = args.databasePort ?? 5432;
    const databaseName = args.databaseName ?? "app";
    const smokeSql = args.smokeSql ?? [];
    const drillScratchStorage = args.drillScratchStorage ?? "8Gi";
    const parallelJobs = args.parallelJobs ?? 1;
    // Checked by validateBackupCronJobsArgs above.
    const drillScratchBytes = (storageBytes(drillScratchStorage) as { bytes: bigint }).bytes;
    const child = { provider: args.provider, parent: this };
    const labels = { "app.kubernetes.io/name": "drctl", "app.kubernetes.io/part-of": "dr-stack" };

    const namespace = new k8s.core.v1.Namespace(
      `${name}-ns`,
      {
        metadata: {
          name: args.namespace,
          labels: {
            ...labels,
            // The API server rejects any pod here that is not locked down as below.
            // https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
          },
        },
      },
      child,
    );
    const inNamespace = { provider: args.provider, parent: this, dependsOn: [namespace] };

    const serviceAccounts = Object.fromEntries(
      (Object.keys(args.identities) as BackupJobPurpose[]).map((purpose) => {
        const identity = args.identities[purpose];
        const sa = new k8s.core.v1.ServiceAccount(
          `${name}-sa-${purpose}`,
          {
            metadata: {
              name: identity.serviceAccount,
              namespace: args.namespace,
              labels,
              annotations: {
                "eks.amazonaws.com/role-arn": identity.roleArn,
                // Regional STS: the DR region's jobs must not depend on the global endpoint.
                "eks.amazonaws.com/sts-regional-endpoints": "true",
              },
            },
            // Off for pods that do not ask; the CronJob pods opt in for the IRSA token.
            automountServiceAccountToken: false,
          },
          inNamespace,
        );
        return [purpose, sa];
      }),
    ) as Record<BackupJobPurpose, k8s.core.v1.ServiceAccount>;

    // The drill's scratch volumes: EBS gp3 through the EBS CSI driver, encrypted with the site
    // key, created with each drill pod and deleted with it. WaitForFirstConsumer puts the volume
    // in the zone the pod is scheduled to (an EBS volume attaches only within its zone).
    // https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/parameters.md
    // https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode
    const storageClass = new k8s.storage.v1.StorageClass(
      `${name}-scratch`,
      {
        metadata: { name: SCRATCH_STORAGE_CLASS, labels },
        provisioner: EBS_CSI.driverName,
        parameters: {
          type: "gp3",
          encrypted: "true",
          kmsKeyId: args.kmsKeyArn,
          // A restore is write-bound: gp3's free 3,000 IOPS and 125 MiB/s would be its ceiling.
          ...(args.drillScratchPerformance
            ? {
                iops: String(args.drillScratchPerformance.iops),
                throughput: String(args.drillScratchPerformance.throughputMiBps),
              }
            : {}),
        },
        reclaimPolicy: "Delete",
        volumeBindingMode: "WaitForFirstConsumer",
        allowVolumeExpansion: false,
      },
      child,
    );
    const drillVolume: ScratchVolume = {
      kind: "ephemeral",
      size: drillScratchStorage,
      storageClassName: SCRATCH_STORAGE_CLASS,
    };

    const commonEnv = [
      { name: "AWS_REGION", value: args.region },
      { name: "DRCTL_STORE", value: args.store },
      { name: "DRCTL_SSE_KMS_KEY_ID", value: args.kmsKeyArn },
      { name: "DRCTL_METRICS_NAMESPACE", value: args.metricsNamespace },
    ];
    const databaseEnv = [
      ...(args.databaseHost !== undefined ? [{ name: "PGHOST", value: args.databaseHost }] : []),
      { name: "PGPORT", value: String(databasePort) },
      { name: "PGDATABASE", value: databaseName },
      { name: "PGSSLMODE", value: DATABASE_TLS.sslMode },
      { name: "PGSSLROOTCERT", value: DATABASE_TLS.rootCert },
      ...(args.databaseSecretArn !== undefined
        ? [{ name: "DRCTL_DB_SECRET_ARN", value: args.databaseSecretArn }]
        : []),
    ];

    const cronJobs = jobPlans(args.role, args.schedules).map((plan) => {
      const timing = JOB_TIMING[plan.kind];
      const env = [...commonEnv];
      if (plan.kind === "backup") {
        const tier = plan.tier as Tier;
        env.push(
          { name: "DRCTL_TIER", value: tier },
          { name: "DRCTL_JOBS", value: String(parallelJobs) },
          ...databaseEnv,
        );
        // What `drctl check` sizes the drill's scratch volumes against.
        if (plan.preflight)
          env.push({ name: "DRCTL_SCRATCH_BYTES", value: String(drillScratchBytes) });
        if (args.objectLock) {
          env.push(
            { name: "DRCTL_OBJECT_LOCK_MODE", value: args.objectLock.mode },
            { name: "DRCTL_OBJECT_LOCK_DAYS", value: String(args.objectLock.days[tier]) },
          );
        }
      }
      if (plan.kind === "drill") {
        env.push(
          { name: "DRCTL_SCRATCH_URL", value: SCRATCH_URL },
          { name: "DRCTL_SMOKE_SQL", value: JSON.stringify(smokeSql) },
          { name: "DRCTL_JOBS", value: String(parallelJobs) },
          // Parallel jobs and scratch (docs/architecture.md §5): the size of EACH scratch volume; drctl refuses a bigger backup up front.
          { name: "DRCTL_SCRATCH_BYTES", value: String(drillScratchBytes) },
        );
      }
      const jobLabels = { ...labels, "app.kubernetes.io/component": plan.kind };
      const purpose = JOB_PURPOSE[plan.kind];
      return new k8s.batch.v1.CronJob(
        `${name}-${plan.key}`,
        {
          metadata: { name: plan.key, namespace: args.namespace, labels: jobLabels },
          spec: {
            schedule: plan.schedule,
            timeZone,
            suspend: !plan.active,
            // Two dumps of one tier at once would double the load for nothing.
            concurrencyPolicy: "Forbid",
            // A run missed by more than this is skipped (the age alarms catch it) rather
            // than started late into the next window.
            startingDeadlineSeconds: timing.startingDeadlineSeconds,
            successfulJobsHistoryLimit: plan.kind === "status" ? 1 : 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
              metadata: { labels: jobLabels },
              spec: {
                backoffLimit: timing.backoffLimit,
                activeDeadlineSeconds:
                  plan.kind === "drill"
                    ? (args.drillDeadlineSeconds ?? timing.activeDeadlineSeconds)
                    : timing.activeDeadlineSeconds,
                ttlSecondsAfterFinished: TTL_SECONDS_AFTER_FINISHED,
                template: {
                  metadata: {
                    labels: jobLabels,
                    // The scratch server needs no AWS credentials.
                    annotations:
                      plan.kind === "drill"
                        ? { "eks.amazonaws.com/skip-containers": SCRATCH_CONTAINER }
                        : undefined,
                  },
                  spec: backupPodSpec({
                    serviceAccount: args.identities[purpose].serviceAccount,
                    // The drill downloads the dump to TMPDIR before pg_restore --jobs reads it.
                    tmp:
                      plan.kind === "drill" ? drillVolume : { kind: "emptyDir", sizeLimit: "2Gi" },
                    volumeLabels: jobLabels,
                    drctl: {
                      image: args.image,
                      args: plan.args,
                      env,
                      // verify and status run no pg_dump or pg_restore workers.
                      resources: drctlResources(
                        plan.kind === "backup" || plan.kind === "drill" ? parallelJobs : 1,
                      ),
                    },
                    scratch:
                      plan.kind === "drill"
                        ? {
                            image: args.scratchImage,
                            data: drillVolume,
                            resources: scratchResources(parallelJobs),
                            settings: scratchServerSettings(parallelJobs),
                          }
                        : undefined,
                    preflight: plan.preflight,
                  }),
                },
              },
            },
          },
        },
        {
          provider: args.provider,
          parent: this,
          dependsOn: [serviceAccounts[purpose], ...(plan.kind === "drill" ? [storageClass] : [])],
        },
      );
    });

    jobsEgressPolicy(
      `${name}-egress`,
      { namespace: args.namespace, labels, vpcCidr: args.vpcCidr, databasePort },
      inNamespace,
    );

    this.namespace = namespace.metadata.name;
    this.cronJobNames = pulumi.all(cronJobs.map((c) => c.metadata.name));
    this.registerOutputs({ namespace: this.namespace, cronJobNames: this.cronJobNames });
  }
}
