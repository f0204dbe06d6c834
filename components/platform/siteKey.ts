import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";

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
  /**
   * How this update treats the key's policy (`dr-stack:siteKey`): only the break-glass principal
   * may replace it, so an ordinary `up` never sends it. @default { updatePolicy: false }
   */
  readonly policyStep?: KeyPolicyStep;
  /** Tags for the key. @default {} */
  readonly tags?: Record<string, string>;
}

/** The key-policy step of an update (docs/runbooks/upgrades.md, "Changing the site key's policy"). */
export interface KeyPolicyStep {
  /**
   * `dr-stack:siteKey.updatePolicy`: this update replaces the key's policy (PutKeyPolicy), and
   * must then run as the break-glass principal. @default false
   */
  readonly updatePolicy?: boolean;
  /**
   * `dr-stack:siteKey.appliedPolicyDigest`: the `siteKeyPolicyDigest` output of the update that
   * last applied the policy. When the program's policy differs, an ordinary update is refused
   * naming the step. Unset: not recorded (the first deployment), nothing to compare.
   */
  readonly appliedPolicyDigest?: string;
  /**
   * A declared role move (`dr-stack:database.previousRole` set): a failover or failback is never
   * held up by a key-policy change; the key keeps its policy and the step waits. @default false
   */
  readonly roleMove?: boolean;
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

/**
 * The actions that destroy a key or its protections, break-glass only: deleting, disabling or
 * re-policying the key, and repointing or deleting an alias that names it. S3 replication names
 * the peer's replica key by alias: a repointed alias would silently encrypt replicas with another
 * key, a deleted one stop replication. KMS authorizes UpdateAlias and DeleteAlias against the key
 * policy of the key the alias points to ("Controlling access to aliases",
 * https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html), so this key's Deny
 * covers its alias.
 */
export const KEY_DESTRUCTIVE_ACTIONS = [
  "kms:ScheduleKeyDeletion",
  "kms:DisableKey",
  "kms:PutKeyPolicy",
  "kms:UpdateAlias",
  "kms:DeleteAlias",
] as const;

/**
 * The service-linked role EC2 Auto Scaling launches managed-node-group instances with; it
 * creates their root volumes, encrypted with this key (components/platform/nodeLaunchTemplate.ts).
 */
export function autoScalingServiceRoleArn(partition: string, accountId: string): string {
  return `arn:${partition}:iam::${accountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;
}

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
 * creation only the break-glass principal (and the account's root user) may change it
 * (PutKeyPolicy is denied to everyone else), so it must be complete from the first deployment's
 * first step; a later change is the key-policy step (`KeyPolicyStep`). Principals that may not
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
        // The account's root user is never denied: if the break-glass role is lost, root can
        // still replace the policy, which keeps the key manageable ("Allows access to the AWS
        // account and enables IAM policies",
        // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
        // aws:PrincipalArn is the role ARN for a role's sessions and `…:root` for the root user
        // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
        Condition: {
          ArnNotEquals: {
            "aws:PrincipalArn":
              k.breakGlassPrincipalArn === root ? root : [k.breakGlassPrincipalArn, root],
          },
        },
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
        // Node root volumes (the launch template) are created by EC2 Auto Scaling's service-linked
        // role, whose own policy grants no KMS use: the key policy must name it ("Required AWS
        // KMS key policy for use with encrypted volumes",
        // https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html).
        // KMS refuses a policy naming a principal that does not exist: the role must exist before
        // the first deployment (docs/first-deployment.md, "What must exist before").
        Sid: "AutoScalingEncryptsNodeVolumes",
        Effect: "Allow",
        Principal: { AWS: autoScalingServiceRoleArn(k.partition, k.accountId) },
        Action: [
          "kms:Encrypt",
          "kms:Decrypt",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:DescribeKey",
        ],
        Resource: "*",
      },
      {
        Sid: "AutoScalingAttachesNodeVolumes",
        Effect: "Allow",
        Principal: { AWS: autoScalingServiceRoleArn(k.partition, k.accountId) },
        Action: ["kms:CreateGrant"],
        Resource: "*",
        Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
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

/** A short, stable name for a policy document: the first 16 hex digits of its SHA-256. */
export function siteKeyPolicyDigest(policy: Record<string, unknown>): string {
  return createHash("sha256").update(JSON.stringify(policy)).digest("hex").slice(0, 16);
}

/**
 * Problems with this update's key-policy step, each naming its config key and the step to run;
 * empty when the update may proceed. `digest` is the program's policy's.
 */
export function keyPolicyStepProblems(
  step: KeyPolicyStep,
  digest: string,
  breakGlassPrincipalArn: string,
): string[] {
  const applied = step.appliedPolicyDigest;
  if (step.updatePolicy || step.roleMove || applied === undefined || applied === digest) return [];
  return [
    `dr-stack:siteKey.appliedPolicyDigest: this program's site key policy (${digest}) differs from ` +
      `the one applied (${applied}), and the key's own Deny refuses PutKeyPolicy to everyone but ` +
      `${breakGlassPrincipalArn} and the account's root user. Run the key-policy step ` +
      `(docs/runbooks/upgrades.md, "Changing the site key's policy"): ` +
      `\`pulumi config set --path dr-stack:siteKey.updatePolicy true\`, then \`pulumi up\` with ` +
      `the credentials of ${breakGlassPrincipalArn}; then ` +
      `\`pulumi config set --path dr-stack:siteKey.appliedPolicyDigest ${digest}\` and ` +
      `\`pulumi config rm --path dr-stack:siteKey.updatePolicy\`.`,
  ];
}

/**
 * The IAM principal ARN a caller identity acts as, as aws:PrincipalArn names it: an assumed-role
 * session `arn:…:sts::<acct>:assumed-role/<role>/<session>` acts as `arn:…:iam::<acct>:role/<role>`.
 * (The session ARN drops a role's path; `matchesPrincipal` compares role names for that reason.)
 */
export function callerPrincipalArn(callerArn: string): string {
  const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

/** Whether the caller acts as `principalArn` (a role, compared by name since sessions drop paths). */
export function matchesPrincipal(callerArn: string, principalArn: string): boolean {
  const caller = callerPrincipalArn(callerArn);
  const role = (arn: string) => /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
  const a = role(caller);
  const b = role(principalArn);
  return a && b ? a[1] === b[1] && a[2] === b[2] && a[3] === b[3] : caller === principalArn;
}

/**
 * Why `callerArn` may not run the key-policy step, or undefined when it may: only the principals
 * the key's Deny exempts (break glass, the account's root user) can PutKeyPolicy.
 */
export function keyPolicyCallerProblem(
  callerArn: string,
  breakGlassPrincipalArn: string,
  rootArn: string,
): string | undefined {
  if (matchesPrincipal(callerArn, breakGlassPrincipalArn) || callerArn === rootArn)
    return undefined;
  return (
    `dr-stack:siteKey.updatePolicy: this update replaces the site key's policy, which only ` +
    `${breakGlassPrincipalArn} or the account's root user may do, but it runs as ${callerArn}. ` +
    `Run it with the break-glass credentials, or ` +
    `\`pulumi config rm --path dr-stack:siteKey.updatePolicy\` to leave the policy as it is.`
  );
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
  /** siteKeyPolicyDigest of the policy this program declares: record it after the key-policy step. */
  public readonly policyDigest: pulumi.Output<string>;

  constructor(name: string, args: SiteKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    // Every refusal comes before the component is registered: a refused update registers nothing.
    const partition = args.partition ?? "aws";
    const tags = args.tags ?? {};
    const breakGlassPrincipalArn =
      args.breakGlassPrincipalArn ?? `arn:${partition}:iam::${args.accountId}:root`;

    const policy = siteKeyPolicy({
      region: args.region,
      accountId: args.accountId,
      partition,
      adminPrincipalArns: args.adminPrincipalArns ?? [],
      breakGlassPrincipalArn,
      peerReplicationRoleArn: args.peerReplicationRoleArn,
    });
    const digest = siteKeyPolicyDigest(policy);
    const step = args.policyStep ?? {};
    const problems = keyPolicyStepProblems(step, digest, breakGlassPrincipalArn);
    if (problems.length) throw new Error(`invalid SiteKey args:\n  ${problems.join("\n  ")}`);
    super("drstack:security:SiteKey", name, {}, opts);
    const root = `arn:${partition}:iam::${args.accountId}:root`;

    // The policy is sent only by the key-policy step, and only once the caller is known to be a
    // principal the Deny exempts. Who runs `pulumi up` is known only to AWS (GetCallerIdentity),
    // so this check resolves with the lookup; the key's policy waits for it, so a refused caller
    // never reaches PutKeyPolicy.
    const policyText = step.updatePolicy
      ? aws.getCallerIdentityOutput({}, { parent: this }).arn.apply((caller) => {
          const refused = keyPolicyCallerProblem(caller, breakGlassPrincipalArn, root);
          if (refused) throw new Error(refused);
          return JSON.stringify(policy);
        })
      : pulumi.output(JSON.stringify(policy));

    const key = new aws.kms.Key(
      `${name}`,
      {
        region: args.region,
        description: `dr-stack site key (${args.aliasName})`,
        enableKeyRotation: true,
        // 30 days, the maximum: a key scheduled for deletion by mistake can still be recovered.
        deletionWindowInDays: 30,
        policy: policyText,
        // The deployer cannot PutKeyPolicy after this (only break glass can), which KMS's lockout
        // check refuses unless told: the break-glass principal keeps the key manageable.
        // https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html#KMS-CreateKey-request-BypassPolicyLockoutSafetyCheck
        bypassPolicyLockoutSafetyCheck: true,
        tags,
      },
      {
        parent: this,
        // Backups encrypted with this key are unreadable without it: never delete it with the stack.
        retainOnDelete: true,
        // An ordinary update never sends the policy: the key's Deny would refuse it for the
        // deployer. The key-policy step (updatePolicy) sends it as break glass.
        ignoreChanges: step.updatePolicy ? [] : ["policy"],
      },
    );

    const alias = new aws.kms.Alias(
      `${name}-alias`,
      { region: args.region, name: args.aliasName, targetKeyId: key.keyId },
      { parent: this },
    );

    this.keyArn = key.arn;
    this.keyId = key.keyId;
    this.aliasName = alias.name;
    this.policyDigest = pulumi.output(digest);
    this.registerOutputs({
      keyArn: this.keyArn,
      keyId: this.keyId,
      aliasName: this.aliasName,
      policyDigest: this.policyDigest,
    });
  }
}
