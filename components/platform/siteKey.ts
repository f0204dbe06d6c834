import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface SiteKeyArgs {
  readonly region: string;
  readonly accountId: string;
  /** `alias/<stem>` from naming.ts, so the peer can address this key without a StackReference. */
  readonly aliasName: string;
  /** AWS partition. @default "aws" */
  readonly partition?: string;
  /**
   * Principals that administer the key (policy, tags, rotation; never encrypt or decrypt with
   * it). @default the account, through IAM policies
   */
  readonly adminPrincipalArns?: string[];
  /**
   * The one principal that may schedule the key's deletion, disable it or replace its policy.
   * @default the account's root user (`arn:<partition>:iam::<account>:root`)
   */
  readonly breakGlassPrincipalArn?: string;
  /**
   * The peer's S3 replication role (naming.replicationRoleArn(peer → this site)): it writes the
   * replicas of the peer's backups into this site's bucket, encrypted with this key.
   */
  readonly peerReplicationRoleArn: string;
  /** Tags for the key. @default {} */
  readonly tags?: Record<string, string>;
}

/** What using the key means; what IAM policies may grant (AWS's default key policy split). */
export const KEY_USE_ACTIONS = [
  "kms:Encrypt",
  "kms:Decrypt",
  "kms:ReEncrypt*",
  "kms:GenerateDataKey*",
  "kms:DescribeKey",
  "kms:CreateGrant",
  "kms:ListGrants",
  "kms:RevokeGrant",
] as const;

/** Administering the key, without using it (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators). */
export const KEY_ADMIN_ACTIONS = [
  "kms:Create*",
  "kms:Describe*",
  "kms:Enable*",
  "kms:List*",
  "kms:Put*",
  "kms:Update*",
  "kms:Revoke*",
  "kms:Disable*",
  "kms:Get*",
  "kms:Delete*",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
  "kms:RotateKeyOnDemand",
] as const;

/** The actions that destroy a key or its protections: break-glass only (issue 16.5). */
export const KEY_DESTRUCTIVE_ACTIONS = [
  "kms:ScheduleKeyDeletion",
  "kms:DisableKey",
  "kms:PutKeyPolicy",
] as const;

export interface KeyPolicyInput {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly adminPrincipalArns: string[];
  readonly breakGlassPrincipalArn: string;
  readonly peerReplicationRoleArn: string;
}

/**
 * The site key's policy, as a pure function. It never depends on `role` or `peerLinks`: after
 * creation only the break-glass principal may change it (PutKeyPolicy is denied to everyone
 * else), so it must be complete from the first deployment's first step. Principals that may not
 * exist yet (the peer's replication role) are named in conditions, never as `Principal`: KMS
 * refuses a policy whose principal does not exist.
 */
export function siteKeyPolicy(k: KeyPolicyInput): Record<string, unknown> {
  const root = `arn:${k.partition}:iam::${k.accountId}:root`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // IAM policies decide who uses the key (the services, the jobs' roles); none can
        // administer it through this statement.
        Sid: "UseThroughIamPolicies",
        Effect: "Allow",
        Principal: { AWS: root },
        Action: [...KEY_USE_ACTIONS],
        Resource: "*",
      },
      {
        Sid: "Administer",
        Effect: "Allow",
        Principal: { AWS: k.adminPrincipalArns.length ? k.adminPrincipalArns : root },
        Action: [...KEY_ADMIN_ACTIONS],
        Resource: "*",
      },
      {
        // An intruder or a slip with account-admin rights cannot silently destroy the key that
        // every backup in this region is encrypted with.
        Sid: "OnlyBreakGlassDestroys",
        Effect: "Deny",
        Principal: { AWS: "*" },
        Action: [...KEY_DESTRUCTIVE_ACTIONS],
        Resource: "*",
        Condition: { ArnNotEquals: { "aws:PrincipalArn": k.breakGlassPrincipalArn } },
      },
      {
        // Replicating SSE-KMS objects with S3 Bucket Keys: the replication role needs Encrypt
        // and Decrypt on the replica key (S3 user guide, "Replicating encrypted objects",
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html).
        Sid: "PeerS3ReplicationWritesReplicas",
        Effect: "Allow",
        Principal: { AWS: root },
        Action: ["kms:Encrypt", "kms:Decrypt"],
        Resource: "*",
        Condition: { ArnEquals: { "aws:PrincipalArn": k.peerReplicationRoleArn } },
      },
      {
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
        Sid: "CloudWatchLogsEncrypt",
        Effect: "Allow",
        Principal: { Service: `logs.${k.region}.amazonaws.com` },
        Action: [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ],
        Resource: "*",
        Condition: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": `arn:${k.partition}:logs:${k.region}:${k.accountId}:*`,
          },
        },
      },
      {
        // CloudWatch alarms publish to the SNS topic encrypted with this key.
        // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
        Sid: "CloudWatchAlarmsPublish",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Resource: "*",
        Condition: { StringEquals: { "aws:SourceAccount": k.accountId } },
      },
    ],
  };
}

/**
 * The site's customer-managed KMS key: EKS secrets, flow logs, the database, backups and the
 * alarm topic are encrypted with it. KMS keys never leave their region, so each site has one and
 * copies into the peer are re-encrypted with the peer's key.
 */
export class SiteKey extends pulumi.ComponentResource {
  public readonly keyArn: pulumi.Output<string>;
  public readonly keyId: pulumi.Output<string>;
  public readonly aliasName: pulumi.Output<string>;

  constructor(name: string, args: SiteKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:security:SiteKey", name, {}, opts);
    const partition = args.partition ?? "aws";
    const tags = args.tags ?? {};
    const breakGlassPrincipalArn =
      args.breakGlassPrincipalArn ?? `arn:${partition}:iam::${args.accountId}:root`;

    const key = new aws.kms.Key(
      `${name}`,
      {
        region: args.region,
        description: `dr-stack site key (${args.aliasName})`,
        enableKeyRotation: true,
        // 30 days, the maximum: a key scheduled for deletion by mistake can still be recovered.
        deletionWindowInDays: 30,
        policy: JSON.stringify(
          siteKeyPolicy({
            region: args.region,
            accountId: args.accountId,
            partition,
            adminPrincipalArns: args.adminPrincipalArns ?? [],
            breakGlassPrincipalArn,
            peerReplicationRoleArn: args.peerReplicationRoleArn,
          }),
        ),
        // The deployer cannot PutKeyPolicy after this (only break glass can), which KMS's lockout
        // check refuses unless told: the break-glass principal keeps the key manageable.
        // https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html#KMS-CreateKey-request-BypassPolicyLockoutSafetyCheck
        bypassPolicyLockoutSafetyCheck: true,
        tags,
      },
      // Backups encrypted with this key are unreadable without it: never delete it with the stack.
      { parent: this, retainOnDelete: true },
    );

    const alias = new aws.kms.Alias(
      `${name}-alias`,
      { region: args.region, name: args.aliasName, targetKeyId: key.keyId },
      { parent: this },
    );

    this.keyArn = key.arn;
    this.keyId = key.keyId;
    this.aliasName = alias.name;
    this.registerOutputs({ keyArn: this.keyArn, keyId: this.keyId, aliasName: this.aliasName });
  }
}
