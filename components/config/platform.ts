import { z } from "zod";
import { storageBytes } from "../quantity";
import { isIanaTimeZone } from "../validation";
import { siteDns } from "./dns";
import { cidr, cron, region } from "./primitives";

/** The keys of the compute and network side: `sites`, `network`, `cluster`, `jobs`, `alarms`. */

export const siteSchema = z.strictObject({
  region,
  vpcCidr: cidr,
  /** Availability zones the site's VPC spans. */
  azCount: z.number().int().min(2).max(3).default(3),
  dns: siteDns.optional(),
});

export const networkSchema = z
  .strictObject({
    /** `perAz` survives the loss of one AZ; `single` costs one NAT gateway instead of three. */
    natGateways: z.enum(["perAz", "single"]).default("perAz"),
    flowLogRetentionDays: z.number().int().min(1).default(90),
  })
  .prefault({});

export const clusterSchema = z
  .strictObject({
    version: z
      .string()
      .regex(/^1\.\d{2}$/, { error: "must be an EKS version such as 1.33" })
      .default("1.33"),
    /**
     * The Kubernetes version the last successful update deployed, set together with `version`
     * when upgrading, so a skipped minor version is refused before EKS refuses it
     * (components/platform/cluster.ts, clusterUpgradeProblems). Unset means "no upgrade".
     */
    previousVersion: z
      .string()
      .regex(/^1\.\d{2}$/, { error: "must be an EKS version such as 1.33" })
      .optional(),
    /**
     * The EKS-optimized AMI release of the nodes (e.g. "1.33.0-20250704"); unset, EKS picks the
     * latest for `version` when the node group is created or upgraded.
     */
    nodeReleaseVersion: z
      .string()
      .regex(/^\d+\.\d+\.\d+-\d{8}$/)
      .optional(),
    /** CIDRs allowed to reach the public API endpoint; empty means a private endpoint only. */
    publicAccessCidrs: z.array(cidr).default([]),
    nodeInstanceTypes: z.array(z.string()).min(1).default(["m6i.large"]),
    nodeMinSize: z.number().int().min(1).default(2),
    nodeDesiredSize: z.number().int().min(1).default(2),
    nodeMaxSize: z.number().int().min(1).default(4),
    /**
     * Root volume of each node, GiB: the AMI, images, logs and the jobs' emptyDirs. The drill's
     * download and PGDATA are EBS volumes of their own, so the floor (checks.ts) follows the
     * jobs' ephemeral-storage limits, not jobs.drillScratchStorage.
     */
    nodeDiskSizeGb: z.number().int().min(20).max(16384).default(80),
    /**
     * IAM roles or users granted cluster admin through access entries; the one that runs
     * `pulumi up` must be among them (components/platform/cluster.ts explains why).
     */
    adminPrincipalArns: z
      .array(
        z.string().regex(/^arn:[a-z-]+:iam::\d{12}:(role|user)\/.+$/, {
          error:
            "must be an IAM role or user ARN such as arn:aws:iam::111122223333:role/platform-admin (not an STS session ARN)",
        }),
      )
      .default([]),
  })
  .prefault({});

const PARALLEL_JOBS_ERROR = "must be a whole number of parallel jobs from 1 to 16";

export const jobsSchema = z
  .strictObject({
    /** drctl image; pin a digest (repo@sha256:…) so a tag move cannot change what runs. */
    image: z.string().min(1).default("ghcr.io/dr-stack/drctl:0.1.0"),
    /** IANA zone the CronJob schedules are read in (CronJob `timeZone`, Kubernetes 1.27+). */
    timeZone: z
      .string()
      .refine(isIanaTimeZone, {
        error: "must be an IANA time zone such as Etc/UTC or Europe/Berlin",
      })
      .default("Etc/UTC"),
    schedules: z
      .strictObject({
        daily: cron.default("0 2 * * *"),
        weekly: cron.default("0 3 * * 0"),
        monthly: cron.default("0 4 1 * *"),
        verify: cron.default("30 5 * * *"),
        drill: cron.default("0 6 2 * *"),
        /** `drctl status` publishes the age metrics the backup-age and drill-age alarms read. */
        status: cron.default("15 * * * *"),
      })
      .prefault({}),
    /**
     * The drill's scratch PostgreSQL image, pinned by digest (`postgres:16.4@sha256:<64 hex>`): a
     * tag alone can be moved to other bytes. Its tag's major version must match the database's.
     */
    scratchImage: z.string().min(1, {
      error:
        "missing; set it to the drill's scratch image pinned by digest, postgres:<major>.<minor>@sha256:<digest>",
    }),
    /**
     * Size of each of the drill's two scratch volumes (generic ephemeral volumes, EBS gp3 with the
     * site key): the restored database's PGDATA, and the downloaded dump. The restored database must
     * fit. Unset: database.allocatedStorageGb x drillScratchFactor, in Gi (docs/drill.md).
     */
    drillScratchStorage: z
      .string()
      .superRefine((value, ctx) => {
        const parsed = storageBytes(value);
        if ("problem" in parsed) ctx.addIssue({ code: "custom", message: parsed.problem });
      })
      .optional(),
    /**
     * Scratch size over the database's allocated storage: the restored PGDATA holds the same tables
     * and indexes without the source's bloat, plus the WAL of the restore (wal_level=minimal keeps
     * that small); a quarter more is room for both. The dump volume is the same size, and a dump is
     * smaller than the database it came from.
     */
    drillScratchFactor: z.number().min(1).default(1.25),
    /**
     * gp3 IOPS and throughput (MiB/s) of each scratch volume. gp3 gives 3,000 and 125 for free;
     * a restore is write-bound, so the default buys more. At most 500 IOPS per GiB and 0.25 MiB/s
     * per IOPS (checked against the size). https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html
     */
    drillScratchIops: z.number().int().min(3000).max(16000).default(6000),
    drillScratchThroughputMiBps: z.number().int().min(125).max(1000).default(500),
    /** The drill Job's deadline (activeDeadlineSeconds), in hours: the RTO the drill must meet. */
    drillDeadlineHours: z.number().positive().max(24).default(8),
    /**
     * Parallel jobs of pg_dump -j / pg_restore -j in the backup, restore-test and drill CronJobs
     * (env DRCTL_JOBS, parallel jobs and scratch: docs/architecture.md §5). 1 keeps the single-stream custom format; more takes a
     * directory-format dump. The containers' CPU follows it (components/backups/cronJobs.ts).
     */
    // 16: each job is one more database connection and, at full speed, one more core; more than
    // the nodes have only queues.
    parallelJobs: z
      .number()
      .int({ error: PARALLEL_JOBS_ERROR })
      .min(1, { error: PARALLEL_JOBS_ERROR })
      .max(16, { error: PARALLEL_JOBS_ERROR })
      .default(1),
    /** SQL the drill runs against the restored copy; each must return at least one row. */
    smokeSql: z.array(z.string()).default([]),
  })
  // Without a jobs block the scratch image is still required: "" fails min(1) with its message.
  .prefault({ scratchImage: "" });

export const alarmsSchema = z
  .strictObject({
    email: z.email().optional(),
    backupMaxAgeHours: z.number().positive().default(26),
    drillMaxAgeDays: z.number().int().positive().default(35),
    replicaLagSeconds: z.number().positive().default(60),
  })
  .prefault({});
