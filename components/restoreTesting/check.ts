import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { jobActivity } from "../backups/cronJobs";
import { CHECK_JOB_RESOURCES, siteCronJob, siteJobIdentity } from "../backups/siteJob";
import type { Role } from "../config";
import { cronError, isIanaTimeZone } from "../validation";

/** Where drctl restore-test keeps its reports in the site's bucket (drctl's default). */
export const RESTORE_TEST_REPORT_PREFIX = "reports/restore-tests";

/** The CA bundle the drctl image ships (database TLS, docs/architecture.md §8). */
export const RDS_CA_BUNDLE = "/etc/drctl/rds-ca.pem";

export interface RestoreTestCheckArgs {
  readonly region: string;
  readonly role: Role;
  readonly accountId: string;
  /** Kubernetes provider of this site's cluster. */
  readonly provider: k8s.Provider;
  readonly oidcProviderArn: pulumi.Input<string>;
  /** The cluster's OIDC issuer without `https://`. */
  readonly oidcIssuer: pulumi.Input<string>;
  /** The backup jobs' namespace (BackupJobs.namespace: its egress-only NetworkPolicy applies). */
  readonly namespace: pulumi.Input<string>;
  /** Namespace name as a plain string, for the IAM trust policy's `sub`. */
  readonly namespaceName: string;
  /** drctl image (pin a digest). */
  readonly image: string;
  /** RestoreTesting.planArns. */
  readonly planArns: pulumi.Input<string[]>;
  /**
   * The login the checks run as on the restored copy, with a throwaway password the check gives
   * it there as the copy's master (whose password it sets with ModifyDBInstance): a copy holds
   * its recovery point's passwords, which no current secret is sure to match. @default "backup"
   */
  readonly login?: string;
  /** This site's backup bucket: the reports go under RESTORE_TEST_REPORT_PREFIX. */
  readonly bucketName: string;
  readonly bucketArn: string;
  /** Site key: the bucket's SSE-KMS key in this region. */
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly metricsNamespace: string;
  /** Database the check connects to on the restored copy. */
  readonly databaseName: string;
  /** @default [] */
  readonly smokeSql?: string[];
  /** Kubernetes cron, hourly: the restored copy lives `validationWindowHours`. @default "40 * * * *" */
  readonly schedule?: string;
  /** @default "Etc/UTC" */
  readonly timeZone?: string;
  /** @default "drctl-restore-test" */
  readonly serviceAccount?: string;
  /** @default "aws" */
  readonly partition?: string;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/** Validates the args; messages name the argument. */
export function restoreTestCheckArgsProblems(args: RestoreTestCheckArgs): string[] {
  const problems: string[] = [];
  const schedule = args.schedule ?? "40 * * * *";
  const err = cronError(schedule);
  if (err) problems.push(`[schedule] malformed cron "${schedule}": ${err}`);
  const tz = args.timeZone ?? "Etc/UTC";
  if (!isIanaTimeZone(tz)) problems.push(`[timeZone] "${tz}" is not an IANA time zone`);
  const login = args.login ?? "backup";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(login)) {
    problems.push(
      `[login] "${login}" is not a plain PostgreSQL role name (a-z, 0-9, _; 63 at most)`,
    );
  }
  return problems;
}

export interface RestoreTestPolicyInput {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly bucketArn: string;
  readonly kmsKeyArn: string;
  readonly metricsNamespace: string;
}

/**
 * What `drctl restore-test` may do, and nothing else, all in the site's own region: read the
 * plans' restore jobs and publish their validation, describe restored instances (AWS Backup names
 * them awsbackup-restore-test-…) and set their master password, write and read its reports,
 * publish metrics into one namespace. No RDS or S3 delete: AWS Backup deletes the restored copy.
 * No secret: the copy is opened with a password the check sets, never with production's.
 */
export function restoreTestPolicyDocument(p: RestoreTestPolicyInput): string {
  const reports = `${p.bucketArn}/${RESTORE_TEST_REPORT_PREFIX}/*`;
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadRestoreJobsAndPublishValidation",
        Effect: "Allow",
        // We found no resource type for these actions in the Service Authorization Reference's
        // AWS Backup table (ListRestoreJobs is a list call); they are scoped by the plan ARN
        // drctl passes, not by IAM.
        // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbackup.html
        Action: [
          "backup:ListRestoreJobs",
          "backup:PutRestoreValidationResult",
          "backup:GetRestoreTestingPlan",
        ],
        Resource: "*",
      },
      {
        Sid: "DescribeRestoredInstances",
        Effect: "Allow",
        Action: ["rds:DescribeDBInstances"],
        Resource: [`arn:${p.partition}:rds:${p.region}:${p.accountId}:db:awsbackup-restore-test-*`],
      },
      {
        Sid: "SetRestoredCopiesMasterPassword",
        Effect: "Allow",
        // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
        Action: ["rds:ModifyDBInstance"],
        Resource: [`arn:${p.partition}:rds:${p.region}:${p.accountId}:db:awsbackup-restore-test-*`],
      },
      {
        Sid: "WriteAndReadReports",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:GetObject"],
        Resource: [reports],
      },
      {
        Sid: "ListReports",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: [p.bucketArn],
        Condition: { StringLike: { "s3:prefix": [`${RESTORE_TEST_REPORT_PREFIX}/*`] } },
      },
      {
        Sid: "UseSiteKeyThroughS3",
        Effect: "Allow",
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Resource: [p.kmsKeyArn],
        Condition: { StringEquals: { "kms:ViaService": `s3.${p.region}.amazonaws.com` } },
      },
      {
        Sid: "PublishRestoreTestMetrics",
        Effect: "Allow",
        Action: ["cloudwatch:PutMetricData"],
        // PutMetricData has no resource-level permissions; the namespace condition is the scope.
        // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
        Resource: "*",
        Condition: { StringEquals: { "cloudwatch:namespace": p.metricsNamespace } },
      },
    ],
  });
}

/**
 * The validation step of the restore tests: an IRSA role, a ServiceAccount and an hourly CronJob
 * running `drctl restore-test` in the site's own cluster, where the restored copy is reachable
 * (its security group admits the nodes). All of it exists in every role (docs/architecture.md §2b); only a
 * fenced site suspends the CronJob, as it does the drill.
 */
export class RestoreTestCheck extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;
  public readonly cronJobName: pulumi.Output<string>;

  constructor(name: string, args: RestoreTestCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:RestoreTestCheck", name, {}, opts);
    const problems = restoreTestCheckArgsProblems(args);
    if (problems.length) {
      throw new Error(`invalid RestoreTestCheck args:\n  ${problems.join("\n  ")}`);
    }
    const schedule = args.schedule ?? "40 * * * *";
    const timeZone = args.timeZone ?? "Etc/UTC";
    const partition = args.partition ?? "aws";
    const smokeSql = args.smokeSql ?? [];
    const tags = args.tags ?? {};
    const identity = siteJobIdentity(
      name,
      {
        command: "restore-test",
        component: "restore-test",
        serviceAccountName: args.serviceAccount ?? "drctl-restore-test",
        namespace: args.namespace,
        namespaceName: args.namespaceName,
        oidcProviderArn: args.oidcProviderArn,
        oidcIssuer: args.oidcIssuer,
        policy: pulumi.output(args.kmsKeyArn).apply((kmsKeyArn) =>
          restoreTestPolicyDocument({
            region: args.region,
            accountId: args.accountId,
            partition,
            bucketArn: args.bucketArn,
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
      { name: "DRCTL_STORE", value: `s3://${args.bucketName}/` },
      { name: "DRCTL_SSE_KMS_KEY_ID", value: args.kmsKeyArn },
      { name: "DRCTL_METRICS_NAMESPACE", value: args.metricsNamespace },
      {
        name: "DRCTL_RESTORE_TEST_PLAN_ARNS",
        value: pulumi.output(args.planArns).apply((arns) => JSON.stringify(arns)),
      },
      { name: "DRCTL_RESTORE_TEST_LOGIN", value: args.login ?? "backup" },
      { name: "DRCTL_SMOKE_SQL", value: JSON.stringify(smokeSql) },
      { name: "PGDATABASE", value: args.databaseName },
      // Database TLS (docs/architecture.md §8): verify the restored server's certificate against the RDS CA bundle.
      { name: "PGSSLMODE", value: "verify-full" },
      { name: "PGSSLROOTCERT", value: RDS_CA_BUNDLE },
    ];
    const cronJob = siteCronJob(
      `${name}-cron`,
      {
        jobName: "restore-test",
        namespace: args.namespace,
        identity,
        schedule,
        timeZone,
        // Only a fenced site suspends it, as it does the drill.
        suspend: !jobActivity(args.role).drill,
        startingDeadlineSeconds: 1800,
        successfulJobsHistoryLimit: 1,
        // Connect, a few queries, a few API calls, and up to 15 min for a copy's new master
        // password: half an hour is a hung job.
        activeDeadlineSeconds: 1800,
        image: args.image,
        args: ["restore-test"],
        env,
        resources: CHECK_JOB_RESOURCES,
        provider: args.provider,
      },
      this,
    );

    this.roleArn = identity.role.arn;
    this.cronJobName = cronJob.metadata.name;
    this.registerOutputs({ roleArn: this.roleArn, cronJobName: this.cronJobName });
  }
}
