import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Role } from "../config";
import { DATABASE_TLS, jobActivity, TTL_SECONDS_AFTER_FINISHED } from "./cronJobs";
import { NODE_DISK_GIB } from "./resources";
import { siteCronJob, siteJobIdentity } from "./siteJob";

export interface RpoMonitorArgs {
  readonly region: string;
  readonly role: Role;
  readonly accountId: string;
  readonly provider: k8s.Provider;
  readonly oidcProviderArn: pulumi.Input<string>;
  readonly oidcIssuer: pulumi.Input<string>;
  readonly namespace: pulumi.Input<string>;
  readonly namespaceName: string;
  readonly image: string;
  readonly instanceIdentifier: string;
  readonly peerInstanceArn: string;
  /** This site's vaults the peer's copies land in (the standard one, and the air-gapped one). */
  readonly vaultArns: string[];
  /** The site's database endpoint (on a standby: its read replica, where heartbeats replay). */
  readonly databaseHost: pulumi.Input<string>;
  readonly databaseName: string;
  /** The backup login's secret ARN (DRCTL_DB_SECRET_ARN) and its IAM pattern. */
  readonly databaseSecretArn: pulumi.Input<string>;
  readonly loginSecretArnPattern: string;
  /** Both sites' master secrets: denied explicitly. */
  readonly deniedSecretArnPatterns: string[];
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly metricsNamespace: string;
  /** @default "* * * * *" (every minute: a CronJob's finest schedule) */
  readonly schedule?: string;
  /** @default "aws" */
  readonly partition?: string;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

export interface RpoPolicyInput {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly instanceIdentifier: string;
  readonly peerInstanceArn: string;
  readonly vaultArns: string[];
  readonly loginSecretArnPattern: string;
  readonly deniedSecretArnPatterns: string[];
  readonly kmsKeyArn: string;
  readonly metricsNamespace: string;
}

/**
 * What `drctl rpo` may do: read the backup login secret (to read the heartbeat), describe this
 * site's instance and the automated backups in this region, list the recovery points of this
 * site's vaults, publish metrics. Read-only everywhere, in its own region only.
 */
export function rpoPolicyDocument(p: RpoPolicyInput): string {
  const rds = (type: string, id: string) =>
    `arn:${p.partition}:rds:${p.region}:${p.accountId}:${type}:${id}`;
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadBackupLoginSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [p.loginSecretArnPattern],
      },
      {
        Sid: "DecryptBackupLoginSecret",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: [p.kmsKeyArn],
        Condition: {
          StringEquals: { "kms:ViaService": `secretsmanager.${p.region}.amazonaws.com` },
        },
      },
      {
        Sid: "DescribeHistory",
        Effect: "Allow",
        Action: ["rds:DescribeDBInstances", "rds:DescribeDBInstanceAutomatedBackups"],
        Resource: [rds("db", p.instanceIdentifier), p.peerInstanceArn, rds("auto-backup", "*")],
      },
      {
        Sid: "ListCopies",
        Effect: "Allow",
        Action: ["backup:ListRecoveryPointsByBackupVault"],
        Resource: p.vaultArns,
      },
      {
        Sid: "PublishRpoMetrics",
        Effect: "Allow",
        Action: ["cloudwatch:PutMetricData"],
        Resource: "*",
        Condition: { StringEquals: { "cloudwatch:namespace": p.metricsNamespace } },
      },
      {
        Sid: "DenyMasterCredentials",
        Effect: "Deny",
        Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        Resource: p.deniedSecretArnPatterns,
      },
    ],
  });
}

/** The vault name out of `arn:aws:backup:<region>:<account>:backup-vault:<name>`. */
export function vaultNameOf(arn: string): string {
  return arn.slice(arn.lastIndexOf(":") + 1);
}

/**
 * `drctl rpo` every minute in the site's own cluster: the data at risk in seconds (heartbeat age),
 * the restorable age of the point-in-time history this region holds, and the newest copy's age.
 * Exists and runs in every role but fenced (docs/architecture.md §2b); the alarms decide which
 * of its gauges page in which role (components/backups/rpoAlarms.ts).
 */
export class RpoMonitor extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;
  public readonly cronJobName: pulumi.Output<string>;

  constructor(name: string, args: RpoMonitorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:RpoMonitor", name, {}, opts);
    const partition = args.partition ?? "aws";
    const tags = args.tags ?? {};
    const identity = siteJobIdentity(
      name,
      {
        command: "rpo",
        component: "rpo",
        serviceAccountName: "drctl-rpo",
        namespace: args.namespace,
        namespaceName: args.namespaceName,
        oidcProviderArn: args.oidcProviderArn,
        oidcIssuer: args.oidcIssuer,
        policy: pulumi.output(args.kmsKeyArn).apply((kmsKeyArn) =>
          rpoPolicyDocument({
            region: args.region,
            accountId: args.accountId,
            partition,
            instanceIdentifier: args.instanceIdentifier,
            peerInstanceArn: args.peerInstanceArn,
            vaultArns: args.vaultArns,
            loginSecretArnPattern: args.loginSecretArnPattern,
            deniedSecretArnPatterns: args.deniedSecretArnPatterns,
            kmsKeyArn,
            metricsNamespace: args.metricsNamespace,
          }),
        ),
        provider: args.provider,
        tags,
      },
      this,
    );
    const env = [
      { name: "AWS_REGION", value: args.region },
      { name: "DRCTL_METRICS_NAMESPACE", value: args.metricsNamespace },
      { name: "DRCTL_PITR_INSTANCE", value: args.instanceIdentifier },
      { name: "DRCTL_PITR_PEER_INSTANCE_ARN", value: args.peerInstanceArn },
      { name: "DRCTL_RPO_VAULTS", value: JSON.stringify(args.vaultArns.map(vaultNameOf)) },
      { name: "PGHOST", value: args.databaseHost },
      { name: "PGPORT", value: "5432" },
      { name: "PGDATABASE", value: args.databaseName },
      { name: "PGSSLMODE", value: DATABASE_TLS.sslMode },
      { name: "PGSSLROOTCERT", value: DATABASE_TLS.rootCert },
      { name: "DRCTL_DB_SECRET_ARN", value: args.databaseSecretArn },
    ];
    const cronJob = siteCronJob(
      `${name}-cron`,
      {
        jobName: "rpo",
        namespace: args.namespace,
        identity,
        schedule: args.schedule ?? "* * * * *",
        timeZone: "Etc/UTC",
        suspend: !jobActivity(args.role).drill,
        startingDeadlineSeconds: 50,
        successfulJobsHistoryLimit: 1,
        // Every minute: a run that takes longer than that is hung; the next one measures.
        activeDeadlineSeconds: 55,
        // A day of finished runs is 1,440 Jobs: keep them an hour only.
        ttlSecondsAfterFinished: Math.min(3600, TTL_SECONDS_AFTER_FINISHED),
        image: args.image,
        args: ["rpo"],
        env,
        resources: {
          requests: { cpu: "50m", memory: "96Mi", "ephemeral-storage": "32Mi" },
          limits: {
            cpu: "250m",
            memory: "256Mi",
            "ephemeral-storage": `${NODE_DISK_GIB.restoreCheck * 1024}Mi`,
          },
        },
        provider: args.provider,
      },
      this,
    );
    this.roleArn = identity.role.arn;
    this.cronJobName = cronJob.metadata.name;
    this.registerOutputs({ roleArn: this.roleArn, cronJobName: this.cronJobName });
  }
}
