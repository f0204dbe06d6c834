import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackupCronJobs, validateBackupCronJobsArgs, type BackupSchedules } from "./backupCronJobs";
import { BackupIdentity } from "./backupIdentity";
import type { Role } from "./config";

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
  /** naming.backupServiceAccount. */
  readonly serviceAccount: string;
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
  readonly schedules: BackupSchedules;
  /** @default "Etc/UTC" */
  readonly timeZone?: string;
  /** Database host backups dump from (the data tier's endpoint address). @default undefined */
  readonly databaseHost?: pulumi.Input<string>;
  /** Secrets Manager ARN of the `backup` role's credentials. @default undefined */
  readonly databaseSecretArn?: pulumi.Input<string>;
  /** @default "app" */
  readonly databaseName?: string;
  /** @default [] */
  readonly smokeSql?: string[];
  /** @default "8Gi" */
  readonly drillScratchStorage?: string;
  /** Tags for the AWS resources. @default {} */
  readonly tags?: Record<string, string>;
}

/** The scratch image for a database engine version: `postgres:16` for "16" or "16.4". */
export function scratchImageFor(postgresVersion: string): string {
  if (!/^\d+(\.\d+)?$/.test(postgresVersion)) {
    throw new Error(`[postgresVersion] must look like 16 or 16.4, got "${postgresVersion}"`);
  }
  return `postgres:${postgresVersion}`;
}

/**
 * drctl in one site's cluster: its IAM role (IRSA) and the CronJobs that run it. The alarms on
 * what those jobs publish are BackupAlarms, which needs no cluster.
 */
export class BackupJobs extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;
  public readonly namespace: pulumi.Output<string>;
  public readonly cronJobNames: pulumi.Output<string[]>;

  constructor(name: string, args: BackupJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:BackupJobs", name, {}, opts);
    const scratchImage = scratchImageFor(args.postgresVersion);
    const store = `s3://${args.bucketName}/`;
    // Before the IAM role exists: a bad schedule must not leave a half-built site.
    validateBackupCronJobsArgs({ ...args, store });

    const identity = new BackupIdentity(
      `${name}-irsa`,
      {
        region: args.region,
        oidcProviderArn: args.oidcProviderArn,
        oidcIssuer: args.oidcIssuer,
        namespace: args.namespace,
        serviceAccount: args.serviceAccount,
        bucketArn: args.bucketArn,
        kmsKeyArn: args.kmsKeyArn,
        metricsNamespace: args.metricsNamespace,
        databaseSecretArn: args.databaseSecretArn,
        tags: args.tags,
      },
      { parent: this },
    );

    const cronJobs = new BackupCronJobs(
      `${name}-cron`,
      {
        provider: args.provider,
        role: args.role,
        region: args.region,
        namespace: args.namespace,
        serviceAccount: args.serviceAccount,
        roleArn: identity.roleArn,
        image: args.image,
        scratchImage,
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
      },
      { parent: this },
    );

    this.roleArn = identity.roleArn;
    this.namespace = cronJobs.namespace;
    this.cronJobNames = cronJobs.cronJobNames;
    this.registerOutputs({
      roleArn: this.roleArn,
      namespace: this.namespace,
      cronJobNames: this.cronJobNames,
    });
  }
}
