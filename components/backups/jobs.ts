import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackupCronJobs, validateBackupCronJobsArgs, type BackupSchedules } from "./cronJobs";
import { BackupIdentity } from "./identity";
import type { Role, Tier } from "../config";
import { BACKUP_JOB_PURPOSES, backupJobServiceAccount, type BackupJobPurpose } from "../naming";

export interface BackupJobsArgs {
  readonly region: string;
  readonly role: Role;
  /** Kubernetes provider of this site's cluster (`Cluster.provider`). */
  readonly provider: k8s.Provider;
  /** `Cluster.oidcProviderArn`. */
  readonly oidcProviderArn: pulumi.Input<string>;
  /** `Cluster.oidcIssuer` (no `https://`). */
  readonly oidcIssuer: pulumi.Input<string>;
  /** naming.backupNamespace. */
  readonly namespace: string;
  /** IAM role name of each job purpose (naming.backupJobRoleName). */
  readonly roleNames: Readonly<Record<BackupJobPurpose, string>>;
  /** This site's backup bucket name (naming.backupBucketName). */
  readonly bucketName: string;
  /** This site's backup bucket ARN (naming.backupBucketArn). */
  readonly bucketArn: string;
  /** Site key ARN. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** naming.metricsNamespace. */
  readonly metricsNamespace: string;
  /** The site's VPC CIDR, where the database listens. */
  readonly vpcCidr: string;
  /** drctl image (pin a digest). */
  readonly image: string;
  /** PostgreSQL major version of the database: the drill's scratch server runs the same. */
  readonly postgresVersion: string;
  /** The drill's scratch PostgreSQL image, pinned by digest (see scratchImageProblem). */
  readonly scratchImage: string;
  readonly schedules: BackupSchedules;
  /** @default "Etc/UTC" */
  readonly timeZone?: string;
  /** Database host backups dump from (the data tier's endpoint address). @default undefined */
  readonly databaseHost?: pulumi.Input<string>;
  /**
   * What drctl reads the backup login's credentials from (DRCTL_DB_SECRET_ARN): the login
   * secret's ARN or name, never the master secret (docs/architecture.md §8). @default undefined
   */
  readonly databaseSecretArn?: pulumi.Input<string>;
  /**
   * The backup login secret as an ARN pattern (naming.secretArnPattern): the writer identity's
   * only Secrets Manager grant, identical in every role. @default undefined (no grant)
   */
  readonly loginSecretArnPattern?: string;
  /** Secrets every job identity is explicitly denied (both sites' master secrets). @default [] */
  readonly deniedSecretArnPatterns?: string[];
  /**
   * Object Lock retention per tier for what the backups write (docs/architecture.md §4).
   * @default undefined (no Object Lock)
   */
  readonly objectLock?: {
    readonly mode: "GOVERNANCE" | "COMPLIANCE";
    readonly days: Readonly<Record<Tier, number>>;
  };
  /** @default "app" */
  readonly databaseName?: string;
  /** @default [] */
  readonly smokeSql?: string[];
  /** @default "8Gi" */
  readonly drillScratchStorage?: string;
  /** gp3 IOPS and throughput of each scratch volume. @default gp3's baseline */
  readonly drillScratchPerformance?: { readonly iops: number; readonly throughputMiBps: number };
  /** The drill Job's deadline in seconds. @default 8 h */
  readonly drillDeadlineSeconds?: number;
  /** Parallel jobs of the backups and the drill (DRCTL_JOBS). @default 1 */
  readonly parallelJobs?: number;
  /** Tags for the AWS resources. @default {} */
  readonly tags?: Record<string, string>;
}

const DIGEST = /@sha256:[0-9a-f]{64}$/;

/**
 * Why the scratch image cannot be used, or undefined. It must be pinned by digest (a tag can be
 * moved to other bytes; a digest names exactly one image), and a tag beside the digest must name
 * the database's major version: pg_restore into an older server fails on newer dump features.
 * https://docs.docker.com/reference/cli/docker/image/pull/#pull-an-image-by-digest-immutable-identifier
 * https://www.postgresql.org/docs/current/app-pgdump.html (dumps load into the same or newer majors)
 */
export function scratchImageProblem(image: string, postgresVersion: string): string | undefined {
  const major = /^(\d+)/.exec(postgresVersion)?.[1];
  if (!DIGEST.test(image)) {
    return (
      `"${image}" is not pinned by digest; set dr-stack:jobs.scratchImage to ` +
      `postgres:${major ?? "<major>"}.<minor>@sha256:<64 hex digits> ` +
      `(\`docker buildx imagetools inspect postgres:${major ?? "<major>"}.<minor>\` prints the digest)`
    );
  }
  const tag = /:([\w.-]+)@sha256:/.exec(image)?.[1];
  const tagMajor = tag === undefined ? undefined : /^(\d+)/.exec(tag)?.[1];
  if (tagMajor !== undefined && major !== undefined && tagMajor !== major) {
    return (
      `"${image}" is PostgreSQL ${tagMajor} but the database runs ${postgresVersion}; ` +
      `pin a postgres:${major}.x image so the drill restores into the same major version`
    );
  }
  return undefined;
}

/**
 * drctl in one site's cluster: one IAM role (IRSA) per job purpose and the CronJobs that run
 * them. Every role and grant exists whatever the site's role (docs/architecture.md §2b). The alarms on what
 * those jobs publish are BackupAlarms, which needs no cluster.
 */
export class BackupJobs extends pulumi.ComponentResource {
  /** The writer identity's role (the one that creates backups). */
  public readonly roleArn: pulumi.Output<string>;
  /** Each purpose's role ARN. */
  public readonly roleArns: pulumi.Output<Record<BackupJobPurpose, string>>;
  public readonly namespace: pulumi.Output<string>;
  public readonly cronJobNames: pulumi.Output<string[]>;

  constructor(name: string, args: BackupJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:BackupJobs", name, {}, opts);
    const imageProblem = scratchImageProblem(args.scratchImage, args.postgresVersion);
    if (imageProblem) throw new Error(`[scratchImage] ${imageProblem}`);
    const store = `s3://${args.bucketName}/`;
    // Before the IAM roles exist: a bad schedule must not leave a half-built site.
    validateBackupCronJobsArgs({ ...args, store });

    const identities = Object.fromEntries(
      BACKUP_JOB_PURPOSES.map((purpose) => {
        const serviceAccount = backupJobServiceAccount(purpose);
        const identity = new BackupIdentity(
          `${name}-irsa-${purpose}`,
          {
            purpose,
            roleName: args.roleNames[purpose],
            region: args.region,
            oidcProviderArn: args.oidcProviderArn,
            oidcIssuer: args.oidcIssuer,
            namespace: args.namespace,
            serviceAccount,
            bucketArn: args.bucketArn,
            kmsKeyArn: args.kmsKeyArn,
            metricsNamespace: args.metricsNamespace,
            loginSecretArnPattern: purpose === "writer" ? args.loginSecretArnPattern : undefined,
            deniedSecretArnPatterns: args.deniedSecretArnPatterns,
            tags: args.tags,
          },
          { parent: this },
        );
        return [purpose, { serviceAccount, roleArn: identity.roleArn }];
      }),
    ) as Record<BackupJobPurpose, { serviceAccount: string; roleArn: pulumi.Output<string> }>;

    const cronJobs = new BackupCronJobs(
      `${name}-cron`,
      {
        provider: args.provider,
        role: args.role,
        region: args.region,
        namespace: args.namespace,
        identities,
        image: args.image,
        scratchImage: args.scratchImage,
        objectLock: args.objectLock,
        schedules: args.schedules,
        timeZone: args.timeZone,
        store,
        kmsKeyArn: args.kmsKeyArn,
        metricsNamespace: args.metricsNamespace,
        vpcCidr: args.vpcCidr,
        databaseHost: args.databaseHost,
        databaseSecretArn: args.databaseSecretArn,
        databaseName: args.databaseName,
        smokeSql: args.smokeSql,
        drillScratchStorage: args.drillScratchStorage,
        drillScratchPerformance: args.drillScratchPerformance,
        drillDeadlineSeconds: args.drillDeadlineSeconds,
        parallelJobs: args.parallelJobs,
      },
      { parent: this },
    );

    this.roleArn = identities.writer.roleArn;
    this.roleArns = pulumi
      .all(BACKUP_JOB_PURPOSES.map((p) => identities[p].roleArn))
      .apply(
        (arns) =>
          Object.fromEntries(BACKUP_JOB_PURPOSES.map((p, i) => [p, arns[i]])) as Record<
            BackupJobPurpose,
            string
          >,
      );
    this.namespace = cronJobs.namespace;
    this.cronJobNames = cronJobs.cronJobNames;
    this.registerOutputs({
      roleArn: this.roleArn,
      roleArns: this.roleArns,
      namespace: this.namespace,
      cronJobNames: this.cronJobNames,
    });
  }
}
