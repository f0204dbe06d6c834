import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { awsCronError } from "../validation";
import { serviceTrustPolicy } from "../serviceTrust";
import { postgresAccess } from "../database/access";

/** The two monthly tests: the newest recovery point, and one picked at random from the window. */
export const RESTORE_TESTS = ["latest", "random"] as const;
export type RestoreTestKind = (typeof RESTORE_TESTS)[number];

export interface RestoreTestSchedule {
  /** AWS cron expression, in UTC, e.g. `cron(0 8 3 * ? *)`. */
  readonly schedule: string;
  /** Days back AWS Backup may pick a recovery point from (1-365). */
  readonly windowDays: number;
}

export interface RestoreTestingArgs {
  readonly region: string;
  readonly accountId: string;
  /** Prefix of the plan names, e.g. the site stem `acme-dr-use1` (hyphens become underscores). */
  readonly namePrefix: string;
  /**
   * Every vault of this site a recovery point may be in (naming.backupVaultArn, and
   * naming.airGappedVaultArn when the air-gapped vault is on: the peer's copies land there then).
   */
  readonly vaultArns: readonly string[];
  /**
   * Databases whose recovery points may be in the vault: both sites' instance ARNs
   * (naming.dbInstanceArn), since either site may have been the primary that copied here.
   */
  readonly protectedResourceArns: string[];
  /** The site's VPC: restored instances land in its private subnets. */
  readonly vpcId: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The only security group admitted on 5432 of a restored instance: the cluster's nodes. */
  readonly clientSecurityGroupId: pulumi.Input<string>;
  /** @default the DEFAULT_RESTORE_TESTS */
  readonly tests?: Readonly<Record<RestoreTestKind, RestoreTestSchedule>>;
  /** Hours after its scheduled time a test may start (1-168). @default 4 */
  readonly startWindowHours?: number;
  /** Hours the restored instance lives for validation before AWS Backup deletes it (1-168). @default 8 */
  readonly validationWindowHours?: number;
  /** Instance class of the restored copy; unset restores the snapshot's own. @default undefined */
  readonly instanceClass?: string;
  /** AWS partition, for managed policy ARNs. @default "aws" */
  readonly partition?: string;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * The 3rd at 08:00 UTC: after the monthly AWS Backup rule (the 1st at 04:00) and its copy into the
 * peer vault, and after the logical drill (the 2nd). The random test runs mid-month so the two
 * restored copies never run (and cost) at once. The latest test looks back 7 days, the daily
 * rule's retention; the random one the year the monthly rule keeps.
 */
export const DEFAULT_RESTORE_TESTS: Readonly<Record<RestoreTestKind, RestoreTestSchedule>> = {
  latest: { schedule: "cron(0 8 3 * ? *)", windowDays: 7 },
  random: { schedule: "cron(0 8 17 * ? *)", windowDays: 365 },
};

/**
 * Plan and selection names: 1-50 letters, digits and underscores (the provider's validator, from
 * the CreateRestoreTestingPlan API). terraform-provider-aws
 * internal/service/backup/restore_testing_plan.go and restore_testing_selection.go.
 */
export function restoreTestingPlanName(namePrefix: string, kind: RestoreTestKind): string {
  return `${namePrefix.replace(/-/g, "_")}_${kind}`;
}

/** Problems with the args, each naming the argument; empty when valid. */
export function restoreTestingArgsProblems(args: RestoreTestingArgs): string[] {
  const problems: string[] = [];
  const tests = args.tests ?? DEFAULT_RESTORE_TESTS;
  for (const kind of RESTORE_TESTS) {
    const t = tests[kind];
    const err = awsCronError(t.schedule);
    if (err) problems.push(`[tests.${kind}.schedule] malformed AWS cron "${t.schedule}": ${err}`);
    // SelectionWindowDays: "an integer (in days) from 1 to 365".
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingRecoveryPointSelection.html
    if (!Number.isInteger(t.windowDays) || t.windowDays < 1 || t.windowDays > 365) {
      problems.push(
        `[tests.${kind}.windowDays] must be a whole number from 1 to 365, got ${t.windowDays}`,
      );
    }
    const name = restoreTestingPlanName(args.namePrefix, kind);
    if (!/^[0-9A-Za-z_]{1,50}$/.test(name)) {
      problems.push(
        `[namePrefix] gives the plan name "${name}"; AWS allows 1-50 letters, digits and underscores`,
      );
    }
  }
  // StartWindowHours and ValidationWindowHours: 1-168 (the provider's validators; AWS's API too).
  const hours: Array<[string, number | undefined]> = [
    ["startWindowHours", args.startWindowHours],
    ["validationWindowHours", args.validationWindowHours],
  ];
  for (const [key, value] of hours) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 168)) {
      problems.push(`[${key}] must be a whole number of hours from 1 to 168, got ${value}`);
    }
  }
  if (args.vaultArns.length < 1) problems.push(`[vaultArns] must name at least this site's vault`);
  for (const arn of args.vaultArns) {
    if (!/^arn:[^:]+:backup:[a-z0-9-]+:\d{12}:backup-vault:[\w.-]+$/.test(arn)) {
      problems.push(`[vaultArns] "${arn}" is not an AWS Backup vault ARN`);
    } else if (arn.split(":")[3] !== args.region) {
      problems.push(
        `[vaultArns] "${arn}" is not in ${args.region}: a plan tests its own region's vaults`,
      );
    }
  }
  // "up to 30 specific protected resource ARNs" (CreateRestoreTestingSelection).
  if (args.protectedResourceArns.length < 1 || args.protectedResourceArns.length > 30) {
    problems.push(
      `[protectedResourceArns] must name 1 to 30 DB instance ARNs, got ${args.protectedResourceArns.length}`,
    );
  }
  for (const arn of args.protectedResourceArns) {
    // "or by a wildcard: ProtectedResourceArns: ["*"], but not both" (RestoreTestingSelectionForCreate).
    if (arn === "*" && args.protectedResourceArns.length === 1) continue;
    if (!/^arn:[^:]+:rds:[a-z0-9-]+:\d{12}:db:[a-z][a-z0-9-]*$/.test(arn)) {
      problems.push(`[protectedResourceArns] "${arn}" is not an RDS DB instance ARN`);
    }
  }
  return problems;
}

/**
 * The restore metadata AWS Backup may not infer on its own for an RDS instance: where the restored
 * copy lives. Keys are matched case-insensitively; a list value is a JSON array in a string, as
 * GetRestoreJobMetadata returns it. There is no KMS key here on purpose: RestoreDBInstanceFromDBSnapshot
 * has no KmsKeyId, so a restored instance keeps the snapshot's key, which in this vault is the site
 * key (the primary's instance key, or the copy's destination vault key).
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-inferred-metadata.html
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html
 */
export function restoreMetadataOverrides(
  subnetGroupName: string,
  securityGroupId: string,
  instanceClass?: string,
): Record<string, string> {
  return {
    dbSubnetGroupName: subnetGroupName,
    vpcSecurityGroupIds: JSON.stringify([securityGroupId]),
    ...(instanceClass !== undefined ? { dbInstanceClass: instanceClass } : {}),
  };
}

/**
 * AWS Backup restore testing over one site's vault (docs/architecture.md §4, docs/restore-testing.md): monthly,
 * the newest recovery point and a random one are restored into the site's private subnets behind a
 * security group only the cluster reaches, kept `validationWindowHours` for `drctl restore-test`
 * to validate, then deleted by AWS Backup. Identical in every role (docs/architecture.md §2b): the DR region
 * proves the copies that landed in its vault whether or not it is the primary.
 */
export class RestoreTesting extends pulumi.ComponentResource {
  /** Plan ARNs, for `drctl restore-test --plan-arn`. */
  public readonly planArns: pulumi.Output<string[]>;
  public readonly roleArn: pulumi.Output<string>;
  public readonly securityGroupId: pulumi.Output<string>;
  /** The restored copies' subnet group (the point-in-time test restores there too). */
  public readonly subnetGroupName: pulumi.Output<string>;

  constructor(name: string, args: RestoreTestingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:RestoreTesting", name, {}, opts);
    const problems = restoreTestingArgsProblems(args);
    if (problems.length)
      throw new Error(`invalid RestoreTesting args:\n  ${problems.join("\n  ")}`);
    const tests = args.tests ?? DEFAULT_RESTORE_TESTS;
    const startWindowHours = args.startWindowHours ?? 4;
    const validationWindowHours = args.validationWindowHours ?? 8;
    const partition = args.partition ?? "aws";
    const tags = args.tags ?? {};
    const region = args.region;
    const child = { parent: this };

    // The role AWS Backup passes to StartRestoreJob for each test. aws:SourceAccount keeps another
    // account's AWS Backup from using it (confused deputy). The restore-testing service-linked role
    // that schedules the jobs and deletes what they created is AWS's own (created with the first
    // plan, account-wide): nothing to declare per site.
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/using-service-linked-roles-AWSServiceRoleForBackupRestoreTesting.html
    const role = new aws.iam.Role(
      `${name}-role`,
      {
        description: `AWS Backup restore testing of ${args.namePrefix}: restores RDS recovery points`,
        assumeRolePolicy: JSON.stringify(
          serviceTrustPolicy("backup.amazonaws.com", args.accountId),
        ),
        tags,
      },
      child,
    );
    // Creates (and deletes) the restored RDS instance.
    // https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceRolePolicyForRestores.html
    const restores = new aws.iam.RolePolicyAttachment(
      `${name}-restores`,
      {
        role: role.name,
        policyArn: `arn:${partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores`,
      },
      child,
    );

    // No egress and no rule but 5432 from the nodes: a restored copy of production talks to nobody.
    const { subnetGroup: subnets, securityGroup: sg } = postgresAccess(
      {
        subnetGroup: `${name}-subnets`,
        securityGroup: `${name}-sg`,
        fromNodes: `${name}-from-nodes`,
      },
      {
        region,
        vpcId: args.vpcId,
        subnetIds: args.subnetIds,
        clientSecurityGroupId: args.clientSecurityGroupId,
        descriptions: {
          subnetGroup: "dr-stack restore tests: private subnets for restored copies",
          securityGroup: "dr-stack restore tests: 5432 from the cluster nodes only",
          fromNodes: "drctl restore-test from the EKS nodes",
        },
        nameTag: `${name}-restored`,
        tags,
      },
      child,
    );
    const overrides = pulumi
      .all([subnets.name, sg.id])
      .apply(([subnet, group]) => restoreMetadataOverrides(subnet, group, args.instanceClass));

    const plans = RESTORE_TESTS.map((kind) => {
      const plan = new aws.backup.RestoreTestingPlan(
        `${name}-${kind}`,
        {
          region,
          name: restoreTestingPlanName(args.namePrefix, kind),
          scheduleExpression: tests[kind].schedule,
          scheduleExpressionTimezone: "Etc/UTC",
          startWindowHours,
          recoveryPointSelection: {
            algorithm: kind === "latest" ? "LATEST_WITHIN_WINDOW" : "RANDOM_WITHIN_WINDOW",
            // This site's vaults only: in the DR region, where the primary's copies land (the
            // air-gapped one when it is on). A logically air-gapped vault's recovery points may be
            // restore-tested like a standard vault's.
            // https://docs.aws.amazon.com/aws-backup/latest/devguide/logicallyairgappedvault.html
            includeVaults: [...args.vaultArns],
            // The plan's rules take snapshots (no continuous backup), and a cross-Region copy of
            // an RDS continuous backup is a snapshot anyway, so CONTINUOUS would never match here.
            // Point-in-time restores are RDS's own layer (docs/restore-testing.md).
            // https://docs.aws.amazon.com/aws-backup/latest/devguide/point-in-time-recovery.html
            recoveryPointTypes: ["SNAPSHOT"],
            selectionWindowDays: tests[kind].windowDays,
          },
          tags,
        },
        child,
      );
      new aws.backup.RestoreTestingSelection(
        `${name}-${kind}`,
        {
          region,
          name: "rds_instances",
          restoreTestingPlanName: plan.name,
          protectedResourceType: "RDS",
          protectedResourceArns: args.protectedResourceArns,
          iamRoleArn: role.arn,
          validationWindowHours,
          restoreMetadataOverrides: overrides,
        },
        { parent: this, dependsOn: [restores] },
      );
      return plan;
    });

    this.planArns = pulumi.all(plans.map((p) => p.arn));
    this.roleArn = role.arn;
    this.securityGroupId = sg.id;
    this.subnetGroupName = subnets.name;
    this.registerOutputs({
      subnetGroupName: this.subnetGroupName,
      planArns: this.planArns,
      roleArn: this.roleArn,
      securityGroupId: this.securityGroupId,
    });
  }
}
