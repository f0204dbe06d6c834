import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Role } from "../config";
import { serviceTrustPolicy } from "../serviceTrust";

/** Storage classes S3 replication may write replicas in (the config offers the same list). */
export const REPLICA_STORAGE_CLASSES = [
  "STANDARD",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER_IR",
] as const;
export type ReplicaStorageClass = (typeof REPLICA_STORAGE_CLASSES)[number];

/**
 * Replication Time Control's threshold and the replication-metrics event threshold. 15 minutes
 * is the only value S3 accepts for either.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html
 */
export const REPLICATION_TIME_MINUTES = 15;

/**
 * Only the `primary` site replicates out (docs/architecture.md §3), and only while its peer links are on
 * (docs/architecture.md §2b): `standby` and `promoting` sites are destinations, and a `fenced` site takes part
 * in nothing. After a failover the promoted site becomes `primary` and replicates back to the old
 * one once `drctl failover reconnect` turns its peer links on again.
 */
export function replicatesToPeer(role: Role, peerLinks: boolean): boolean {
  return role === "primary" && peerLinks;
}

/** The peer side of the replication: every value comes from naming.ts, never from peer state. */
export interface ReplicationDestination {
  /** `arn:aws:s3:::<peer bucket>`. */
  readonly bucketArn: string;
  /** The peer's region; its KMS key and S3 endpoint live there. */
  readonly region: string;
  /** The peer's KMS alias ARN, which S3 accepts as `replicaKmsKeyId`. */
  readonly kmsAliasArn: string;
  /** `alias/<peer stem>`: the `kms:ResourceAliases` value that scopes `kms:Encrypt`. */
  readonly kmsAliasName: string;
  /** `arn:aws:kms:<peer region>:<account>:key/*`, narrowed by the alias condition. */
  readonly kmsKeyArnPattern: string;
}

export interface BackupReplicationArgs {
  /** The source bucket's region. */
  readonly region: string;
  readonly accountId: string;
  /** Source bucket name (the replication config is attached to it). */
  readonly sourceBucket: pulumi.Input<string>;
  readonly sourceBucketArn: pulumi.Input<string>;
  /**
   * The source bucket's versioning resource: S3 refuses a replication config until versioning is
   * on, so the config waits for it.
   */
  readonly sourceVersioning: pulumi.Resource;
  /** The site key that encrypts the source objects. */
  readonly sourceKmsKeyArn: pulumi.Input<string>;
  readonly destination: ReplicationDestination;
  /** naming.replicationRoleName(self, peer): fixed, so the peer's key policy can name the role. */
  readonly roleName: string;
  /**
   * Whether the replication config exists. The role and its policy exist either way, so that
   * turning replication on (a promotion's reconnect) changes no IAM resource (docs/architecture.md §2b).
   */
  readonly enabled: boolean;
  /**
   * The rule's id, from naming.replicationRuleId: S3 publishes replication metrics with it as the
   * RuleId dimension, and the replication alarms look for exactly that value.
   */
  readonly ruleId: string;
  /** Storage class of the replicas. @default "STANDARD" */
  readonly storageClass?: ReplicaStorageClass;
  /**
   * The buckets use Object Lock: the role may then read each version's retention and legal hold
   * so the replica keeps them. @default false
   */
  readonly objectLock?: boolean;
  /** Tags for the IAM role. @default {} */
  readonly tags?: Record<string, string>;
}

/** Checks the arguments before anything is created; messages name the argument. */
export function validateReplicationArgs(args: BackupReplicationArgs): void {
  const d = args.destination;
  if (d.region === args.region) {
    throw new Error(
      `[destination.region] must differ from [region] (${args.region}): cross-region replication needs the peer's region`,
    );
  }
  if (!/^arn:[a-z-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(d.bucketArn)) {
    throw new Error(
      `[destination.bucketArn] must be an S3 bucket ARN (arn:aws:s3:::name), got "${d.bucketArn}"`,
    );
  }
  // S3 re-encrypts each replica with this key in the destination region; a key from any other
  // region fails every replication with a KMS error only visible in the replication metrics.
  if (!d.kmsAliasArn.includes(`:kms:${d.region}:`) || !d.kmsAliasArn.endsWith(d.kmsAliasName)) {
    throw new Error(
      `[destination.kmsAliasArn] must be the alias ${d.kmsAliasName} in ${d.region}, got "${d.kmsAliasArn}"`,
    );
  }
  if (!d.kmsKeyArnPattern.includes(`:kms:${d.region}:`)) {
    throw new Error(
      `[destination.kmsKeyArnPattern] must name keys in ${d.region}, got "${d.kmsKeyArnPattern}"`,
    );
  }
  // https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
  if (!/^[\w+=,.@-]{1,64}$/.test(args.roleName)) {
    throw new Error(
      `[roleName] must be 1-64 characters of letters, digits and +=,.@_-, got "${args.roleName}" (${args.roleName.length})`,
    );
  }
  if (!/^[\x20-\x7e]{1,255}$/.test(args.ruleId)) {
    throw new Error(`[ruleId] must be 1-255 printable characters, got "${args.ruleId}"`);
  }
  const storageClass = args.storageClass ?? "STANDARD";
  if (!REPLICA_STORAGE_CLASSES.includes(storageClass)) {
    throw new Error(
      `[storageClass] must be one of ${REPLICA_STORAGE_CLASSES.join(", ")}, got "${String(storageClass)}"`,
    );
  }
}

/** Trust: S3 acting for this account (why `aws:SourceAccount` is `IfExists`: ../serviceTrust.ts). */
export function replicationTrustPolicy(accountId: string): object {
  return serviceTrustPolicy("s3.amazonaws.com", accountId);
}

export interface ReplicationPolicyInput {
  readonly sourceRegion: string;
  readonly sourceBucketArn: string;
  readonly sourceKmsKeyArn: string;
  readonly destination: ReplicationDestination;
  readonly objectLock: boolean;
}

/**
 * Least privilege for S3 replication of SSE-KMS objects, after
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html and
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html.
 * Every action is named; none is a wildcard. `s3:ReplicateDelete` is deliberately absent: delete
 * markers are not replicated (see the rule in BackupReplication).
 */
export function replicationRolePolicy(p: ReplicationPolicyInput): object {
  const d = p.destination;
  const sourceObjectActions = [
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionTagging",
    // Replicas of locked versions carry the same retention and legal hold.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
    ...(p.objectLock ? ["s3:GetObjectRetention", "s3:GetObjectLegalHold"] : []),
  ];
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadSourceReplicationConfig",
        Effect: "Allow",
        Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
        Resource: p.sourceBucketArn,
      },
      {
        Sid: "ReadSourceVersions",
        Effect: "Allow",
        Action: sourceObjectActions,
        Resource: `${p.sourceBucketArn}/*`,
      },
      {
        Sid: "WriteReplicas",
        Effect: "Allow",
        Action: ["s3:ReplicateObject", "s3:ReplicateTags"],
        Resource: `${d.bucketArn}/*`,
      },
      {
        // With S3 Bucket Keys the encryption context is the bucket ARN; objects written before
        // bucket keys were on carry the object ARN. Both are this bucket's.
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html
        Sid: "DecryptSourceObjects",
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: p.sourceKmsKeyArn,
        Condition: {
          StringEquals: { "kms:ViaService": `s3.${p.sourceRegion}.amazonaws.com` },
          StringLike: {
            "kms:EncryptionContext:aws:s3:arn": [p.sourceBucketArn, `${p.sourceBucketArn}/*`],
          },
        },
      },
      {
        // IAM cannot authorize by alias ARN, so the resource is every key in the peer region,
        // narrowed to the one that carries the peer's alias (naming.kmsKeyArnPattern). With S3
        // Bucket Keys on the destination, S3 also decrypts with the replica key (the bucket-level
        // data key), so the role needs kms:Decrypt there as well as kms:Encrypt: "Replicating
        // encrypted objects", the note on S3 Bucket Keys.
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
        Sid: "EncryptReplicasWithPeerKey",
        Effect: "Allow",
        Action: ["kms:Encrypt", "kms:Decrypt"],
        Resource: d.kmsKeyArnPattern,
        Condition: {
          StringEquals: { "kms:ViaService": `s3.${d.region}.amazonaws.com` },
          "ForAnyValue:StringEquals": { "kms:ResourceAliases": d.kmsAliasName },
          StringLike: { "kms:EncryptionContext:aws:s3:arn": [d.bucketArn, `${d.bucketArn}/*`] },
        },
      },
    ],
  };
}

/**
 * Cross-region replication of the site's backup bucket to the peer's: an IAM role with least
 * privilege (in every role of the site) and, when `enabled`, one V2 replication rule with
 * Replication Time Control (see `replicatesToPeer`).
 */
export class BackupReplication extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;
  public readonly destinationBucketArn: pulumi.Output<string>;

  constructor(name: string, args: BackupReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:storage:BackupReplication", name, {}, opts);
    validateReplicationArgs(args);
    const storageClass = args.storageClass ?? "STANDARD";
    const objectLock = args.objectLock ?? false;
    const tags = args.tags ?? {};
    const d = args.destination;

    const role = new aws.iam.Role(
      `${name}-role`,
      {
        name: args.roleName,
        description: `S3 replication of backups to ${d.bucketArn}`,
        assumeRolePolicy: JSON.stringify(replicationTrustPolicy(args.accountId)),
        tags,
      },
      { parent: this },
    );
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-role-policy`,
      {
        role: role.id,
        policy: pulumi
          .all([args.sourceBucketArn, args.sourceKmsKeyArn])
          .apply(([sourceBucketArn, sourceKmsKeyArn]) =>
            JSON.stringify(
              replicationRolePolicy({
                sourceRegion: args.region,
                sourceBucketArn,
                sourceKmsKeyArn,
                destination: d,
                objectLock,
              }),
            ),
          ),
      },
      { parent: this },
    );

    if (args.enabled) {
      new aws.s3.BucketReplicationConfig(
        name,
        {
          region: args.region,
          bucket: args.sourceBucket,
          role: role.arn,
          rules: [
            {
              id: args.ruleId,
              status: "Enabled",
              priority: 1,
              // A filter makes this a V2 rule: the only schema that takes Replication Time
              // Control and an explicit delete-marker setting. Were the filter ever dropped, S3
              // would reject the V1 rule carrying both, so this fails loudly, never silently.
              // `{ prefix: "" }` (every key) rather than `{}`: AWS reads an empty filter back as
              // an empty prefix, and the provider then plans a diff on every `up`.
              // https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-add-config.html
              filter: { prefix: "" },
              // Delete markers are NOT replicated: a deletion in one region (an attacker's, or a
              // mistake) must not propagate to the other. Each bucket's own lifecycle rules expire
              // its own copies, so nothing accumulates. (Lifecycle actions are never replicated.)
              // https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-marker-replication.html
              deleteMarkerReplication: { status: "Disabled" },
              sourceSelectionCriteria: {
                // Without this, S3 silently skips SSE-KMS objects: every backup is one.
                sseKmsEncryptedObjects: { status: "Enabled" },
                // Metadata changes made on a replica flow back, so after a failback both copies agree.
                replicaModifications: { status: "Enabled" },
              },
              destination: {
                bucket: d.bucketArn,
                storageClass,
                // KMS keys never leave their region: replicas are re-encrypted with the peer's key.
                encryptionConfiguration: { replicaKmsKeyId: d.kmsAliasArn },
                replicationTime: { status: "Enabled", time: { minutes: REPLICATION_TIME_MINUTES } },
                metrics: {
                  status: "Enabled",
                  eventThreshold: { minutes: REPLICATION_TIME_MINUTES },
                },
              },
            },
          ],
        },
        // The role must hold its permissions before S3 starts replicating with it.
        { parent: this, dependsOn: [args.sourceVersioning, rolePolicy] },
      );
    }

    this.roleArn = role.arn;
    this.destinationBucketArn = pulumi.output(d.bucketArn);
    this.registerOutputs({
      roleArn: this.roleArn,
      destinationBucketArn: this.destinationBucketArn,
    });
  }
}
