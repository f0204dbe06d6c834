import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  BackupReplication,
  type ReplicaStorageClass,
  type ReplicationDestination,
} from "./replication";

/**
 * Where drctl writes each tier (docs/architecture.md §4), the safety backup a restore takes of
 * what it replaces (`pre-restore/`, written by the operator running the restore, never by a job:
 * docs/backup-storage.md), and the drill reports.
 */
export const BACKUP_PREFIXES = {
  daily: "daily/",
  weekly: "weekly/",
  monthly: "monthly/",
  preRestore: "pre-restore/",
  reports: "reports/",
} as const;
export type BackupPrefix = keyof typeof BACKUP_PREFIXES;

/**
 * Incomplete multipart uploads (a dump interrupted mid-stream) are aborted after a day: the
 * CronJobs run at most daily, so by then nothing will complete them, and their parts are billed.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpu-abort-incomplete-mpu-lifecycle-config.html
 */
export const ABORT_MULTIPART_AFTER_DAYS = 1;

export interface ObjectLockSettings {
  /** GOVERNANCE lets only the break-glass principal shorten it (the bucket policy); COMPLIANCE nobody. */
  readonly mode: "GOVERNANCE" | "COMPLIANCE";
  /**
   * Default retention of every new object version: the safety net for what drctl writes without
   * its own per-object retention (create-only backups, docs/architecture.md §4), and the lock of every pre-restore backup, which
   * an operator's drctl writes without one. The shortest tier's lock days, pre-restore included.
   */
  readonly days: number;
}

export interface BackupStorageArgs {
  readonly region: string;
  /** Physical bucket name from naming.backupBucketName, so the peer can compute it. */
  readonly bucketName: string;
  /** The site key: default SSE-KMS key and the only key uploads may name. */
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly accountId: string;
  /** Days each prefix is kept (the config validates the tiers' floors). */
  readonly retentionDays: Readonly<Record<BackupPrefix, number>>;
  /** Days a version is kept after it stops being current (overwritten or expired). @default 30 */
  readonly noncurrentVersionExpirationDays?: number;
  /** Object Lock default retention, against ransomware. @default undefined (no Object Lock) */
  readonly objectLock?: ObjectLockSettings;
  /**
   * The only principal the bucket policy lets bypass governance retention.
   * @default undefined (nobody may)
   */
  readonly breakGlassPrincipalArn?: string;
  /**
   * Replication to the peer's bucket. The role exists in every role of the site (docs/architecture.md §2b);
   * the replication config itself only when `enabled`.
   */
  readonly replication: {
    /** Whether the replication config exists (a primary site with peer links on, peer links: docs/architecture.md §2b). */
    readonly enabled: boolean;
    readonly destination: ReplicationDestination;
    /** naming.replicationRoleName(self, peer): the peer's key policy names it. */
    readonly roleName: string;
    /** @default "STANDARD" */
    readonly storageClass?: ReplicaStorageClass;
    /** The rule's id (naming.replicationRuleId): S3's replication metrics are per RuleId. */
    readonly ruleId: string;
  };
  /** Tags for the bucket and the replication role. @default {} */
  readonly tags?: Record<string, string>;
}

/** Checks the arguments before anything is created; messages name the argument. */
export function validateBackupStorageArgs(args: BackupStorageArgs): void {
  const wholeDays = (key: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`[${key}] must be a whole number of days, at least 1, got ${v}`);
    }
  };
  for (const prefix of Object.keys(BACKUP_PREFIXES) as BackupPrefix[]) {
    wholeDays(`retentionDays.${prefix}`, args.retentionDays[prefix]);
  }
  if (args.noncurrentVersionExpirationDays !== undefined) {
    wholeDays("noncurrentVersionExpirationDays", args.noncurrentVersionExpirationDays);
  }
  if (args.objectLock) wholeDays("objectLock.days", args.objectLock.days);
  if (
    args.breakGlassPrincipalArn !== undefined &&
    !/^arn:[a-z-]+:iam::\d{12}:(role|user)\/.+$/.test(args.breakGlassPrincipalArn)
  ) {
    throw new Error(
      `[breakGlassPrincipalArn] must be an IAM role or user ARN, got "${args.breakGlassPrincipalArn}"`,
    );
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(args.bucketName)) {
    throw new Error(
      `[bucketName] must be 3-63 characters of a-z, 0-9, . and -, got "${args.bucketName}"`,
    );
  }
}

/**
 * The bucket policy: TLS only, and no upload may choose an encryption other than the site key.
 *
 * The SSE condition keys exist only when the client sends the headers. A request without them
 * gets the bucket default (SSE-KMS with the site key), which is what we want, and it must stay
 * allowed: UploadPart is authorized as `s3:PutObject` but can never carry the SSE headers, so a
 * "deny when missing" statement would deny every part of every multipart upload, i.e. every dump
 * drctl streams (aws/aws-cli#4251, boto/botocore#471). So each statement denies a header that
 * is present and wrong:
 *   - an SSE algorithm other than aws:kms (AES256, aws:kms:dsse);
 *   - aws:kms without a key id, for which the PutObject reference says S3 uses the AWS managed
 *     key aws/s3 rather than the bucket's;
 *   - a key id other than the site key's ARN (the header holds whatever string the client sent,
 *     so an alias or bare key id of the same key is refused too: send the ARN or nothing);
 *   - customer-provided keys (SSE-C): a backup nobody but the uploader can read.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null
 */
export function backupBucketPolicy(
  bucketArn: string,
  kmsKeyArn: string,
  breakGlassPrincipalArn?: string,
): object {
  const objects = `${bucketArn}/*`;
  const denyPut = (Sid: string, Condition: Record<string, Record<string, string>>) => ({
    Sid,
    Effect: "Deny",
    Principal: "*",
    Action: "s3:PutObject",
    Resource: objects,
    Condition,
  });
  const SSE = "s3:x-amz-server-side-encryption";
  const KEY_ID = "s3:x-amz-server-side-encryption-aws-kms-key-id";
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, objects],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      denyPut("DenyNonKmsEncryption", {
        StringNotEquals: { [SSE]: "aws:kms" },
        Null: { [SSE]: "false" },
      }),
      denyPut("DenyKmsWithoutSiteKey", {
        StringEquals: { [SSE]: "aws:kms" },
        Null: { [KEY_ID]: "true" },
      }),
      denyPut("DenyOtherKmsKey", {
        StringNotEquals: { [KEY_ID]: kmsKeyArn },
        Null: { [KEY_ID]: "false" },
      }),
      denyPut("DenyCustomerProvidedKeys", {
        Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "false" },
      }),
      createOnlyStatement(bucketArn),
      governanceBypassStatement(bucketArn, breakGlassPrincipalArn),
    ],
  };
}

/** The prefixes that hold backups: create-only (docs/architecture.md §4). `reports/` is not one of them. */
export const CREATE_ONLY_PREFIXES = ["daily/", "weekly/", "monthly/", "pre-restore/"] as const;

/**
 * Create-only backups (docs/architecture.md §4): no object under a tier prefix may be created without `If-None-Match: *`, so an
 * existing backup can never be overwritten. The S3 user guide, "Enforce conditional writes on
 * Amazon S3 buckets": the `s3:if-none-match` key is Null when the header is absent (example 1
 * allows only puts where it is not), and `s3:ObjectCreationOperation` is false for
 * CreateMultipartUpload, UploadPart and UploadPartCopy, which cannot carry the header and must
 * be exempt (example 2's BlockNonConditionalObjectCreation denies exactly when it is true).
 * The completion of a multipart upload is a creation and needs the header. Replication writes
 * replicas with s3:ReplicateObject, not s3:PutObject, so it is not affected.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
 */
export function createOnlyStatement(bucketArn: string): object {
  return {
    Sid: "DenyNonConditionalCreates",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:PutObject",
    Resource: CREATE_ONLY_PREFIXES.map((prefix) => `${bucketArn}/${prefix}*`),
    Condition: {
      Null: { "s3:if-none-match": "true" },
      Bool: { "s3:ObjectCreationOperation": "true" },
    },
  };
}

/**
 * Governance-mode retention can be shortened or removed by anyone holding
 * `s3:BypassGovernanceRetention` ("Bypassing governance mode"); this denies it to every principal
 * but the configured break-glass one, whatever IAM grants. (In COMPLIANCE mode nobody can bypass.)
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass
 */
export function governanceBypassStatement(
  bucketArn: string,
  breakGlassPrincipalArn?: string,
): object {
  return {
    Sid: "DenyGovernanceBypass",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:BypassGovernanceRetention",
    Resource: `${bucketArn}/*`,
    ...(breakGlassPrincipalArn !== undefined
      ? { Condition: { ArnNotEquals: { "aws:PrincipalArn": breakGlassPrincipalArn } } }
      : {}),
  };
}

/**
 * One expiration rule per prefix, plus one rule over the whole bucket for what versioning leaves
 * behind. An expired current version becomes noncurrent (a delete marker hides it) and is removed
 * `noncurrentDays` later; the delete marker, once alone, is then removed too. So a daily backup
 * is gone for good after `retentionDays.daily + noncurrentDays` at the earliest. With Object
 * Lock, lifecycle still places the delete marker, but "a locked version of an object cannot be
 * deleted by a S3 Lifecycle expiration policy": the noncurrent version stays until its retention
 * ends (S3 user guide, "Managing S3 Lifecycle policies with Object Lock").
 * `expiredObjectDeleteMarker` cannot share an Expiration with `days`, hence its own rule.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-lifecycle
 *
 * The whole-bucket rule's filter is `{ prefix: "" }`, not `{}`: the provider warns on an empty
 * filter block and plans a diff when AWS reads it back (terraform-provider-aws #41710, #42714,
 * fixed for validation only in #42624); an empty prefix matches every key and is kept as written.
 */
export function lifecycleRules(
  retentionDays: Readonly<Record<BackupPrefix, number>>,
  noncurrentDays: number,
): aws.types.input.s3.BucketLifecycleConfigurationRule[] {
  const perPrefix = (Object.keys(BACKUP_PREFIXES) as BackupPrefix[]).map((tier) => ({
    // Named for the prefix (`expire-pre-restore`): the id is what the console and the policy show.
    id: `expire-${BACKUP_PREFIXES[tier].slice(0, -1)}`,
    status: "Enabled",
    filter: { prefix: BACKUP_PREFIXES[tier] },
    expiration: { days: retentionDays[tier] },
  }));
  return [
    ...perPrefix,
    {
      id: "versions-uploads-markers",
      status: "Enabled",
      filter: { prefix: "" },
      noncurrentVersionExpiration: { noncurrentDays },
      abortIncompleteMultipartUpload: { daysAfterInitiation: ABORT_MULTIPART_AFTER_DAYS },
      expiration: { expiredObjectDeleteMarker: true },
    },
  ];
}

/**
 * The site's backup bucket: versioned, SSE-KMS with the site key and bucket keys, private, owner-
 * enforced, TLS-only, create-only under the tier prefixes, lifecycle per tier, Object Lock (on by
 * default in the config), and (on a primary with peer links) replicated to the peer's bucket. v7's split resources only, never inline bucket arguments: mixing the two
 * silently drops replication and lifecycle rules (pulumi/pulumi-aws#2577).
 */
export class BackupStorage extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;
  public readonly bucketArn: pulumi.Output<string>;
  /** Whether this site replicates out. */
  public readonly replicates: pulumi.Output<boolean>;
  /** The role S3 replicates this bucket to the peer's with (exists in every role). */
  public readonly replicationRoleArn: pulumi.Output<string>;

  constructor(name: string, args: BackupStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:storage:BackupStorage", name, {}, opts);
    validateBackupStorageArgs(args);
    const noncurrentDays = args.noncurrentVersionExpirationDays ?? 30;
    const tags = args.tags ?? {};
    const region = args.region;
    // What guards the data is kept if the component is ever removed from the program: the
    // bucket itself is retained, and so must be what keeps it versioned, encrypted and private.
    const keep = { parent: this, retainOnDelete: true };

    const bucket = new aws.s3.Bucket(
      name,
      // No forceDestroy, no objectLockEnabled here: Object Lock is turned on by its own
      // resource below, which (unlike this argument) works on an existing bucket, so enabling
      // it later is an update, not a replacement that `protect` would (rightly) refuse.
      { region, bucket: args.bucketName, tags },
      { parent: this, protect: true, retainOnDelete: true },
    );

    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { region, bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
      keep,
    );

    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-sse`,
      {
        region,
        bucket: bucket.id,
        rules: [
          {
            applyServerSideEncryptionByDefault: {
              sseAlgorithm: "aws:kms",
              kmsMasterKeyId: args.kmsKeyArn,
            },
            // A bucket key cuts KMS requests (and their cost and throttling) by up to 99%.
            // https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html
            bucketKeyEnabled: true,
            blockedEncryptionTypes: ["SSE-C"],
          },
        ],
      },
      keep,
    );

    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        region,
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      keep,
    );

    // ACLs off: the bucket owner owns every object, replicas included.
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { region, bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
      keep,
    );

    new aws.s3.BucketPolicy(
      `${name}-policy`,
      {
        region,
        bucket: bucket.id,
        policy: pulumi
          .all([bucket.arn, args.kmsKeyArn])
          .apply(([bucketArn, keyArn]) =>
            JSON.stringify(backupBucketPolicy(bucketArn, keyArn, args.breakGlassPrincipalArn)),
          ),
      },
      // S3 rejects concurrent bucket-policy and public-access-block changes (OperationAborted).
      { ...keep, dependsOn: [publicAccess] },
    );

    if (args.objectLock) {
      // Needs versioning first. Lifecycle still expires locked objects' *current* versions (a
      // delete marker is allowed), but cannot remove a locked version before its retention
      // ends: see docs/backup-storage.md.
      new aws.s3.BucketObjectLockConfiguration(
        `${name}-object-lock`,
        {
          region,
          bucket: bucket.id,
          objectLockEnabled: "Enabled",
          rule: { defaultRetention: { mode: args.objectLock.mode, days: args.objectLock.days } },
        },
        { ...keep, dependsOn: [versioning] },
      );
    }

    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      { region, bucket: bucket.id, rules: lifecycleRules(args.retentionDays, noncurrentDays) },
      // Noncurrent-version rules mean nothing until versioning is on.
      { parent: this, dependsOn: [versioning] },
    );

    const replication = new BackupReplication(
      `${name}-replication`,
      {
        region,
        accountId: args.accountId,
        sourceBucket: bucket.id,
        sourceBucketArn: bucket.arn,
        sourceVersioning: versioning,
        sourceKmsKeyArn: args.kmsKeyArn,
        destination: args.replication.destination,
        roleName: args.replication.roleName,
        enabled: args.replication.enabled,
        storageClass: args.replication.storageClass,
        ruleId: args.replication.ruleId,
        objectLock: args.objectLock !== undefined,
        tags,
      },
      { parent: this },
    );

    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.replicates = pulumi.output(args.replication.enabled);
    this.replicationRoleArn = replication.roleArn;
    this.registerOutputs({
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      replicates: this.replicates,
      replicationRoleArn: this.replicationRoleArn,
    });
  }
}
