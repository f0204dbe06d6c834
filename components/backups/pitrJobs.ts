import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Role } from "../config";
import { serviceTrustPolicy } from "../serviceTrust";
import { cronError } from "../validation";
import { jobActivity } from "./cronJobs";
import { CHECK_JOB_RESOURCES, siteCronJob, siteJobIdentity } from "./siteJob";

/** Where `drctl pitr-test` writes its reports (drctl's default). */
export const PITR_REPORT_PREFIX = "reports/pitr-tests";

/**
 * Monthly, both kinds, on days apart from the other monthly tests (drill on the 2nd, AWS Backup
 * restore tests on the 3rd and the 17th) so no two restored copies run and cost at once: the
 * latest restorable time − 5 min on the 5th, a random point of the window on the 19th.
 */
export const DEFAULT_PITR_SCHEDULES = { latest: "0 6 5 * *", random: "0 6 19 * *" } as const;

/**
 * The job's deadline: the restore (drctl waits up to 3 h), the password change (20 min) and the
 * checks, with room to ask the cleanup function to delete the copy.
 */
export const PITR_JOB_DEADLINE_SECONDS = 4 * 3600;

export interface PitrJobsArgs {
  readonly region: string;
  readonly role: Role;
  readonly accountId: string;
  readonly provider: k8s.Provider;
  readonly oidcProviderArn: pulumi.Input<string>;
  readonly oidcIssuer: pulumi.Input<string>;
  /** BackupJobs.namespace (its egress-only NetworkPolicy applies). */
  readonly namespace: pulumi.Input<string>;
  readonly namespaceName: string;
  readonly image: string;
  /** This site's DB instance identifier (naming.dbInstanceIdentifier). */
  readonly instanceIdentifier: string;
  /** The peer's DB instance ARN (naming.dbInstanceArn): the source of the replicated backups. */
  readonly peerInstanceArn: string;
  /** The restore tests' subnet group and security group (RestoreTesting). */
  readonly subnetGroupName: pulumi.Input<string>;
  readonly securityGroupId: pulumi.Input<string>;
  readonly bucketName: string;
  readonly bucketArn: string;
  /** Site key: the bucket's SSE-KMS key and the key of every restored copy in this region. */
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly metricsNamespace: string;
  readonly databaseName: string;
  /** @default [] */
  readonly smokeSql?: string[];
  /** Instance class of the restored copy; unset keeps the source's. @default undefined */
  readonly instanceClass?: string;
  /** Kubernetes cron expressions. @default DEFAULT_PITR_SCHEDULES */
  readonly schedules?: { readonly latest: string; readonly random: string };
  /** @default "Etc/UTC" */
  readonly timeZone?: string;
  /** @default "drctl-pitr-test" */
  readonly serviceAccount?: string;
  /** @default "aws" */
  readonly partition?: string;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/** `<instance>-pitr`: the prefix of every copy the test restores, and all the cleanup may delete. */
export function pitrIdentifierPrefix(instanceIdentifier: string): string {
  return `${instanceIdentifier.slice(0, 44)}-pitr`;
}

/** Validates the args; messages name the argument. */
export function pitrJobsArgsProblems(args: PitrJobsArgs): string[] {
  const problems: string[] = [];
  const schedules = args.schedules ?? DEFAULT_PITR_SCHEDULES;
  for (const [key, s] of Object.entries(schedules)) {
    const err = cronError(s);
    if (err) problems.push(`[schedules.${key}] malformed cron "${s}": ${err}`);
  }
  if (!/^arn:[^:]+:rds:[a-z0-9-]+:\d{12}:db:[a-z][a-z0-9-]*$/.test(args.peerInstanceArn)) {
    problems.push(`[peerInstanceArn] "${args.peerInstanceArn}" is not an RDS DB instance ARN`);
  }
  return problems;
}

export interface PitrPolicyInput {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly instanceIdentifier: string;
  readonly bucketArn: string;
  readonly kmsKeyArn: string;
  readonly metricsNamespace: string;
  readonly cleanupFunctionArn: string;
}

/**
 * What `drctl pitr-test` may do, in its own region only: restore into `<instance>-pitr-*` from this
 * site's instance or any automated backup in the region, change only those copies, use the site
 * key through RDS (a copy of an encrypted source is encrypted with its key), ask the cleanup
 * function to delete a copy, write its reports, publish its metrics. No delete of any kind.
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html
 */
export function pitrPolicyDocument(p: PitrPolicyInput): string {
  const rds = (type: string, name: string) =>
    `arn:${p.partition}:rds:${p.region}:${p.accountId}:${type}:${name}`;
  const copies = rds("db", `${pitrIdentifierPrefix(p.instanceIdentifier)}-*`);
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DescribeInstancesAndBackups",
        Effect: "Allow",
        Action: ["rds:DescribeDBInstances", "rds:DescribeDBInstanceAutomatedBackups"],
        Resource: [rds("db", "*"), rds("auto-backup", "*")],
      },
      {
        Sid: "RestoreIntoTestCopies",
        Effect: "Allow",
        // RestoreDBInstanceToPointInTime is authorized on the target and the source, the subnet
        // group and the option and parameter groups it uses; AddTagsToResource for its Tags.
        Action: ["rds:RestoreDBInstanceToPointInTime", "rds:AddTagsToResource"],
        Resource: [
          copies,
          rds("db", p.instanceIdentifier),
          rds("auto-backup", "*"),
          rds("subgrp", "*"),
          rds("og", "*"),
          rds("pg", "*"),
        ],
      },
      {
        Sid: "SetTheCopiesMasterPassword",
        Effect: "Allow",
        Action: ["rds:ModifyDBInstance"],
        Resource: [copies],
      },
      {
        Sid: "UseSiteKeyThroughRds",
        Effect: "Allow",
        Action: ["kms:CreateGrant", "kms:DescribeKey"],
        Resource: [p.kmsKeyArn],
        Condition: { StringEquals: { "kms:ViaService": `rds.${p.region}.amazonaws.com` } },
      },
      {
        Sid: "AskForDeletion",
        Effect: "Allow",
        Action: ["lambda:InvokeFunction"],
        Resource: [p.cleanupFunctionArn],
      },
      {
        Sid: "WriteReports",
        Effect: "Allow",
        Action: ["s3:PutObject"],
        Resource: [`${p.bucketArn}/${PITR_REPORT_PREFIX}/*`],
      },
      {
        Sid: "UseSiteKeyThroughS3",
        Effect: "Allow",
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Resource: [p.kmsKeyArn],
        Condition: { StringEquals: { "kms:ViaService": `s3.${p.region}.amazonaws.com` } },
      },
      {
        Sid: "PublishPitrMetrics",
        Effect: "Allow",
        Action: ["cloudwatch:PutMetricData"],
        Resource: "*",
        Condition: { StringEquals: { "cloudwatch:namespace": p.metricsNamespace } },
      },
    ],
  });
}

/** The cleanup function's own policy: delete (and look at) the test copies, write its log. */
export function pitrCleanupPolicyDocument(p: PitrPolicyInput & { logGroupArn: string }): string {
  const copies = `arn:${p.partition}:rds:${p.region}:${p.accountId}:db:${pitrIdentifierPrefix(p.instanceIdentifier)}-*`;
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DeleteTestCopies",
        Effect: "Allow",
        Action: ["rds:DescribeDBInstances", "rds:DeleteDBInstance"],
        Resource: [copies],
      },
      {
        Sid: "WriteLog",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [`${p.logGroupArn}:*`],
      },
    ],
  });
}

/**
 * The point-in-time restore test of a site (docs/restore-testing.md): the job identity, the cleanup
 * function that deletes what the test restored, and two monthly CronJobs running `drctl pitr-test`
 * (latest and random). All of it exists in every role (docs/architecture.md §2b); the command
 * finds at run time whether the site's history is its own instance's or the replicated one.
 */
export class PitrJobs extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;
  public readonly cleanupFunctionName: pulumi.Output<string>;
  public readonly cronJobNames: pulumi.Output<string[]>;

  constructor(name: string, args: PitrJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:PitrJobs", name, {}, opts);
    const problems = pitrJobsArgsProblems(args);
    if (problems.length) throw new Error(`invalid PitrJobs args:\n  ${problems.join("\n  ")}`);
    const schedules = args.schedules ?? DEFAULT_PITR_SCHEDULES;
    const timeZone = args.timeZone ?? "Etc/UTC";
    const serviceAccountName = args.serviceAccount ?? "drctl-pitr-test";
    const partition = args.partition ?? "aws";
    const tags = args.tags ?? {};
    const region = args.region;
    const prefix = pitrIdentifierPrefix(args.instanceIdentifier);
    const child = { parent: this };
    const policyInput = (kmsKeyArn: string, cleanupFunctionArn: string): PitrPolicyInput => ({
      region,
      accountId: args.accountId,
      partition,
      instanceIdentifier: args.instanceIdentifier,
      bucketArn: args.bucketArn,
      kmsKeyArn,
      metricsNamespace: args.metricsNamespace,
      cleanupFunctionArn,
    });

    // The cleanup function: the only thing here that may delete, and only the test's copies.
    const functionName = `${prefix.slice(0, 51)}-cleanup`;
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-cleanup-log`,
      { region, name: `/aws/lambda/${functionName}`, retentionInDays: 90, tags },
      child,
    );
    const cleanupRole = new aws.iam.Role(
      `${name}-cleanup`,
      {
        description: `Deletes the point-in-time test copies ${prefix}-* of ${args.instanceIdentifier}`,
        assumeRolePolicy: JSON.stringify(
          serviceTrustPolicy("lambda.amazonaws.com", args.accountId),
        ),
        tags,
      },
      child,
    );
    const cleanupPolicy = new aws.iam.RolePolicy(
      `${name}-cleanup`,
      {
        role: cleanupRole.name,
        policy: pulumi
          .all([args.kmsKeyArn, logGroup.arn])
          .apply(([key, logGroupArn]) =>
            pitrCleanupPolicyDocument({ ...policyInput(key, ""), logGroupArn }),
          ),
      },
      child,
    );
    const cleanup = new aws.lambda.Function(
      `${name}-cleanup`,
      {
        region,
        name: functionName,
        description: `dr-stack: deletes ${prefix}-* copies made by drctl pitr-test`,
        runtime: "nodejs20.x",
        handler: "index.handler",
        role: cleanupRole.arn,
        code: new pulumi.asset.AssetArchive({
          "index.js": new pulumi.asset.FileAsset(path.join(__dirname, "pitrCleanup", "index.js")),
        }),
        timeout: 60,
        environment: { variables: { PITR_PREFIX: prefix } },
        tags,
      },
      { parent: this, dependsOn: [cleanupPolicy, logGroup] },
    );

    const identity = siteJobIdentity(
      name,
      {
        command: "pitr-test",
        component: "pitr-test",
        serviceAccountName,
        namespace: args.namespace,
        namespaceName: args.namespaceName,
        oidcProviderArn: args.oidcProviderArn,
        oidcIssuer: args.oidcIssuer,
        policy: pulumi
          .all([args.kmsKeyArn, cleanup.arn])
          .apply(([key, fn]) => pitrPolicyDocument(policyInput(key, fn))),
        provider: args.provider,
        tags,
      },
      this,
    );
    const env = [
      { name: "AWS_REGION", value: region },
      { name: "DRCTL_STORE", value: `s3://${args.bucketName}/` },
      { name: "DRCTL_SSE_KMS_KEY_ID", value: args.kmsKeyArn },
      { name: "DRCTL_METRICS_NAMESPACE", value: args.metricsNamespace },
      { name: "DRCTL_PITR_INSTANCE", value: args.instanceIdentifier },
      { name: "DRCTL_PITR_PEER_INSTANCE_ARN", value: args.peerInstanceArn },
      { name: "DRCTL_PITR_SUBNET_GROUP", value: args.subnetGroupName },
      { name: "DRCTL_PITR_SECURITY_GROUP", value: args.securityGroupId },
      { name: "DRCTL_PITR_CLEANUP_FUNCTION", value: cleanup.name },
      ...(args.instanceClass
        ? [{ name: "DRCTL_PITR_INSTANCE_CLASS", value: args.instanceClass }]
        : []),
      { name: "DRCTL_SMOKE_SQL", value: JSON.stringify(args.smokeSql ?? []) },
      { name: "PGDATABASE", value: args.databaseName },
      { name: "PGSSLMODE", value: "verify-full" },
      { name: "PGSSLROOTCERT", value: "/etc/drctl/rds-ca.pem" },
    ];
    const cronJobs = (["latest", "random"] as const).map((target) =>
      siteCronJob(
        `${name}-${target}`,
        {
          jobName: `pitr-test-${target}`,
          namespace: args.namespace,
          identity,
          schedule: schedules[target],
          timeZone,
          // Every role but fenced, as the drill: each region proves its own history.
          suspend: !jobActivity(args.role).drill,
          startingDeadlineSeconds: 3600,
          successfulJobsHistoryLimit: 3,
          // No retry (siteCronJob): a retry would restore another copy.
          activeDeadlineSeconds: PITR_JOB_DEADLINE_SECONDS,
          image: args.image,
          args: ["pitr-test", "--target", target],
          env,
          resources: CHECK_JOB_RESOURCES,
          provider: args.provider,
        },
        this,
      ),
    );

    this.roleArn = identity.role.arn;
    this.cleanupFunctionName = cleanup.name;
    this.cronJobNames = pulumi.all(cronJobs.map((c) => c.metadata.name));
    this.registerOutputs({
      roleArn: this.roleArn,
      cleanupFunctionName: this.cleanupFunctionName,
      cronJobNames: this.cronJobNames,
    });
  }
}
