import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { RETENTION_FLOORS, TIERS, type Tier } from "../config";
import { serviceTrustPolicy } from "../serviceTrust";

/** One rule of the plan: when it runs and how long its recovery points (and their copies) live. */
export interface BackupRule {
  /** AWS cron expression, in UTC, e.g. `cron(0 2 * * ? *)`. */
  readonly schedule: string;
  readonly deleteAfterDays: number;
  /** Days before moving to cold storage; unset keeps recovery points warm. @default undefined */
  readonly coldStorageAfterDays?: number;
}

export interface VaultLock {
  /** Grace days before the lock becomes immutable (compliance mode); at least 3. */
  readonly changeableForDays: number;
  /** @default 7 */
  readonly minRetentionDays?: number;
  /** @default 3650 */
  readonly maxRetentionDays?: number;
}

export interface AirGappedVault {
  /** naming.airGappedVaultName. */
  readonly name: string;
  readonly minRetentionDays: number;
  readonly maxRetentionDays: number;
}

export interface AwsBackupArgs {
  readonly region: string;
  readonly accountId: string;
  /** This site's vault name, from naming.backupVaultName (the peer copies into it by ARN). */
  readonly vaultName: string;
  /** naming.backupServiceRoleName: the role exists in every role of the site (docs/architecture.md §2b). */
  readonly roleName: string;
  /** The site key: encrypts this vault and therefore the peer's copies landing in it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /**
   * Where every rule copies its recovery points: the peer's vault (naming.backupVaultArn) or
   * its air-gapped vault. Unset while the site's peer links are off (docs/architecture.md §2b).
   * @default undefined (no copy actions)
   */
  readonly copyTargetVaultArn?: string;
  /** The daily, weekly and monthly rules. @default the DEFAULT_BACKUP_RULES */
  readonly rules?: Readonly<Record<Tier, BackupRule>>;
  /**
   * Resources the plan backs up (the site's DB instance ARN). Empty means no plan and no selection:
   * only a primary is backed up; other roles keep the vault so that the peer can copy into it.
   * @default []
   */
  readonly resourceArns?: pulumi.Input<string>[];
  /** Lock the vault against deletion of recovery points (WORM). @default undefined (no lock) */
  readonly vaultLock?: VaultLock;
  /** A logically air-gapped vault in this region, the peer's copy target. @default undefined */
  readonly airGappedVault?: AirGappedVault;
  /**
   * The one principal the vault access policy lets delete recovery points or change their
   * lifecycle. @default undefined (nobody)
   */
  readonly breakGlassPrincipalArn?: string;
  /** AWS partition, for managed policy ARNs. @default "aws" */
  readonly partition?: string;
  /** Tags for every child. @default {} */
  readonly tags?: Record<string, string>;
}

/** docs/architecture.md §4: daily 02:00 kept 7 days, Sunday 03:00 kept 28, the 1st at 04:00 kept 365 (UTC). */
export const DEFAULT_BACKUP_RULES: Readonly<Record<Tier, BackupRule>> = {
  daily: { schedule: "cron(0 2 * * ? *)", deleteAfterDays: 7 },
  weekly: { schedule: "cron(0 3 ? * SUN *)", deleteAfterDays: 28 },
  monthly: { schedule: "cron(0 4 1 * ? *)", deleteAfterDays: 365 },
};

/** Problems with the args, each naming the argument (and the rule); empty when valid. */
export function awsBackupArgsProblems(args: AwsBackupArgs): string[] {
  const problems: string[] = [];
  const rules = args.rules ?? DEFAULT_BACKUP_RULES;
  for (const tier of TIERS) {
    const r = rules[tier];
    if (r.deleteAfterDays < RETENTION_FLOORS[tier]) {
      problems.push(
        `[rules.${tier}.deleteAfterDays] must be at least ${RETENTION_FLOORS[tier]}, got ${r.deleteAfterDays}`,
      );
    }
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/plan-options-and-configuration.html
    if (r.coldStorageAfterDays !== undefined) {
      if (r.coldStorageAfterDays < 30) {
        problems.push(
          `[rules.${tier}.coldStorageAfterDays] must be at least 30, got ${r.coldStorageAfterDays}`,
        );
      }
      if (r.deleteAfterDays < r.coldStorageAfterDays + 90) {
        problems.push(
          `[rules.${tier}.deleteAfterDays] must be at least coldStorageAfterDays + 90 ` +
            `(${r.coldStorageAfterDays + 90}), got ${r.deleteAfterDays}`,
        );
      }
    }
  }
  if (args.vaultLock && args.vaultLock.changeableForDays < 3) {
    problems.push(
      `[vaultLock.changeableForDays] must be at least 3 (AWS's minimum grace period), got ${args.vaultLock.changeableForDays}`,
    );
  }
  const lag = args.airGappedVault;
  if (lag && lag.minRetentionDays > lag.maxRetentionDays) {
    problems.push(
      `[airGappedVault.minRetentionDays] (${lag.minRetentionDays}) must not exceed maxRetentionDays (${lag.maxRetentionDays})`,
    );
  }
  // https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
  if (!/^[\w+=,.@-]{1,64}$/.test(args.roleName)) {
    problems.push(
      `[roleName] must be 1-64 characters of letters, digits and +=,.@_-, got "${args.roleName}"`,
    );
  }
  return problems;
}

/** The lifecycle block of a rule, shared by its copy action so both regions keep the same days. */
export function ruleLifecycle(r: BackupRule): { deleteAfter: number; coldStorageAfter?: number } {
  return r.coldStorageAfterDays === undefined
    ? { deleteAfter: r.deleteAfterDays }
    : { deleteAfter: r.deleteAfterDays, coldStorageAfter: r.coldStorageAfterDays };
}

/** Trust: AWS Backup acting for this account (why `aws:SourceAccount` is `IfExists`: ../serviceTrust.ts). */
export function backupServiceTrustPolicy(accountId: string): object {
  return serviceTrustPolicy("backup.amazonaws.com", accountId);
}

/**
 * The vault access policy: nobody but the break-glass principal may delete a recovery point or
 * shorten its lifecycle, whatever IAM grants (AWS Backup, "Vault access policies": deny access to
 * delete recovery points; the AWS Config rule backup-recovery-point-manual-deletion-disabled
 * checks for these actions with wildcard principal and resource). AWS Backup vault policies
 * accept no wildcard in Action, so each action is named. PutBackupVaultAccessPolicy is not denied:
 * the deploying principal must be able to update this policy; vault lock is what holds against
 * an administrator.
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html
 */
export function vaultAccessPolicy(breakGlassPrincipalArn?: string): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyRecoveryPointDeletion",
        Effect: "Deny",
        Principal: "*",
        Action: ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"],
        Resource: "*",
        ...(breakGlassPrincipalArn !== undefined
          ? { Condition: { ArnNotEquals: { "aws:PrincipalArn": breakGlassPrincipalArn } } }
          : {}),
      },
    ],
  };
}

/**
 * The second backup layer (docs/architecture.md §4): a vault per site encrypted with the site key, locked, with
 * an access policy that denies deleting recovery points; optionally an air-gapped vault; the AWS
 * Backup service role (in every role of the site); on a primary, a plan with daily, weekly and
 * monthly rules, each copying its recovery point into the peer region while peer links are on,
 * and a selection of the site's database.
 */
export class AwsBackup extends pulumi.ComponentResource {
  public readonly vaultArn: pulumi.Output<string>;
  public readonly vaultName: pulumi.Output<string>;
  /** The plan's id, or undefined when nothing is selected (a non-primary site). */
  public readonly planId: pulumi.Output<string | undefined>;
  /** The role AWS Backup assumes (also for restores and restore testing). */
  public readonly roleArn: pulumi.Output<string>;
  /** The air-gapped vault's ARN, or undefined when none is configured. */
  public readonly airGappedVaultArn: pulumi.Output<string | undefined>;

  constructor(name: string, args: AwsBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:AwsBackup", name, {}, opts);
    const problems = awsBackupArgsProblems(args);
    if (problems.length) throw new Error(`invalid AwsBackup args:\n  ${problems.join("\n  ")}`);
    const rules = args.rules ?? DEFAULT_BACKUP_RULES;
    const resourceArns = args.resourceArns ?? [];
    const partition = args.partition ?? "aws";
    const tags = args.tags ?? {};
    const region = args.region;
    const child = { parent: this };

    // Recovery points here outlive the stack by design: no forceDestroy, and keep the vault if the
    // stack is destroyed (a vault with recovery points cannot be deleted anyway).
    const vault = new aws.backup.Vault(
      name,
      { region, name: args.vaultName, kmsKeyArn: args.kmsKeyArn, tags },
      { parent: this, retainOnDelete: true },
    );

    new aws.backup.VaultPolicy(
      name,
      {
        region,
        backupVaultName: vault.name,
        policy: JSON.stringify(vaultAccessPolicy(args.breakGlassPrincipalArn)),
      },
      child,
    );

    if (args.vaultLock) {
      // Once changeableForDays passes, the lock is compliance mode: nobody, root included, can
      // delete recovery points early or remove the lock.
      // https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
      new aws.backup.VaultLockConfiguration(
        name,
        {
          region,
          backupVaultName: vault.name,
          changeableForDays: args.vaultLock.changeableForDays,
          minRetentionDays: args.vaultLock.minRetentionDays ?? 7,
          maxRetentionDays: args.vaultLock.maxRetentionDays ?? 3650,
        },
        child,
      );
    }

    // A logically air-gapped vault is locked in compliance mode from its creation and can be
    // shared with another account (AWS RAM) to restore from there if this account is lost.
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/logicallyairgappedvault.html
    let airGappedVaultArn: pulumi.Output<string | undefined> = pulumi.output(undefined);
    if (args.airGappedVault) {
      const lag = new aws.backup.LogicallyAirGappedVault(
        `${name}-airgapped`,
        {
          region,
          name: args.airGappedVault.name,
          minRetentionDays: args.airGappedVault.minRetentionDays,
          maxRetentionDays: args.airGappedVault.maxRetentionDays,
          tags,
        },
        { parent: this, retainOnDelete: true },
      );
      airGappedVaultArn = lag.arn;
    }

    // In every role, so that a promotion (which adds the plan and selection) and a reconnect
    // (which adds the copy actions) change no IAM resource (docs/architecture.md §2b).
    const role = new aws.iam.Role(
      `${name}-backup`,
      {
        name: args.roleName,
        description: `AWS Backup of the ${args.vaultName} site's database`,
        assumeRolePolicy: JSON.stringify(backupServiceTrustPolicy(args.accountId)),
        tags,
      },
      child,
    );
    const attachments = [
      "AWSBackupServiceRolePolicyForBackup",
      "AWSBackupServiceRolePolicyForRestores",
    ].map(
      (policy) =>
        new aws.iam.RolePolicyAttachment(
          `${name}-${policy}`,
          {
            role: role.name,
            policyArn: `arn:${partition}:iam::aws:policy/service-role/${policy}`,
          },
          child,
        ),
    );

    let planId: pulumi.Output<string | undefined> = pulumi.output(undefined);
    if (resourceArns.length > 0) {
      const copyTarget = args.copyTargetVaultArn;
      const plan = new aws.backup.Plan(
        name,
        {
          region,
          rules: TIERS.map((tier) => ({
            ruleName: tier,
            targetVaultName: vault.name,
            schedule: rules[tier].schedule,
            scheduleExpressionTimezone: "Etc/UTC",
            // Start within an hour, finish within 12: a job still running at the next rule's
            // start would make that rule skip.
            startWindow: 60,
            completionWindow: 720,
            lifecycle: ruleLifecycle(rules[tier]),
            copyActions:
              copyTarget === undefined
                ? []
                : [{ destinationVaultArn: copyTarget, lifecycle: ruleLifecycle(rules[tier]) }],
            recoveryPointTags: { ...tags, "dr-stack:tier": tier },
          })),
          tags,
        },
        child,
      );

      new aws.backup.Selection(
        name,
        {
          region,
          name: `${args.vaultName}-db`,
          planId: plan.id,
          iamRoleArn: role.arn,
          resources: resourceArns,
        },
        { parent: this, dependsOn: attachments },
      );
      planId = plan.id;
    }

    this.vaultArn = vault.arn;
    this.vaultName = vault.name;
    this.planId = planId;
    this.roleArn = role.arn;
    this.airGappedVaultArn = airGappedVaultArn;
    this.registerOutputs({
      vaultArn: this.vaultArn,
      vaultName: this.vaultName,
      planId: this.planId,
      roleArn: this.roleArn,
      airGappedVaultArn: this.airGappedVaultArn,
    });
  }
}
