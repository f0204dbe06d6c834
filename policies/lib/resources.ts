import type { PolicyResource } from "@pulumi/policy";
import type * as pulumi from "@pulumi/pulumi";

/**
 * Helpers for stack policies: finding resources by type token and linking v7's split S3
 * resources (encryption, lifecycle, public access block, policy, replication) to their bucket.
 */

/**
 * Type tokens. aws v7 keeps the deprecated `…V2` tokens as aliases of the split resources, so a
 * rule accepts both: a bucket declared with either must be checked the same way.
 */
export const TYPES = {
  buckets: ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"],
  sse: [
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
  ],
  lifecycle: [
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
  ],
  publicAccessBlock: ["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"],
  bucketPolicy: ["aws:s3/bucketPolicy:BucketPolicy"],
  replication: ["aws:s3/bucketReplicationConfig:BucketReplicationConfig"],
  versioning: [
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
  ],
  objectLock: [
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
  ],
  vault: ["aws:backup/vault:Vault"],
  vaultLock: ["aws:backup/vaultLockConfiguration:VaultLockConfiguration"],
  role: ["aws:iam/role:Role"],
  rolePolicy: ["aws:iam/rolePolicy:RolePolicy"],
  rolePolicyAttachment: ["aws:iam/rolePolicyAttachment:RolePolicyAttachment"],
  policy: ["aws:iam/policy:Policy"],
  cronJob: ["kubernetes:batch/v1:CronJob"],
  dbInstance: ["aws:rds/instance:Instance"],
  dbParameterGroup: ["aws:rds/parameterGroup:ParameterGroup"],
  dbBackupsReplication: [
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
  ],
} as const;

/** A resource's inputs (outputs, in a stack policy under the CLI), typed by its Args interface. */
export function propsOf<TArgs>(r: {
  props: Record<string, unknown>;
}): Partial<pulumi.Unwrap<TArgs>> {
  return r.props as Partial<pulumi.Unwrap<TArgs>>;
}

export function ofTypes(resources: PolicyResource[], types: readonly string[]): PolicyResource[] {
  return resources.filter((r) => types.includes(r.type));
}

/** The bucket's real name when known, else its logical name (for messages and name patterns). */
export function bucketName(bucket: PolicyResource): string {
  const name = (bucket.props as { bucket?: unknown }).bucket;
  return typeof name === "string" && name !== "" ? name : bucket.name;
}

/**
 * The split resources of `types` that configure `bucket`. A split resource names its bucket in
 * its `bucket` property; it is linked when that value is the bucket's name or id, or when the
 * property was computed from the bucket (its property dependencies name the bucket's URN, which
 * is how the link shows before the name is known).
 */
export function attachedTo(
  resources: PolicyResource[],
  types: readonly string[],
  bucket: PolicyResource,
): PolicyResource[] {
  const p = bucket.props as { bucket?: unknown; id?: unknown };
  return referencing(resources, types, bucket, "bucket", [p.bucket, p.id]);
}

/**
 * The resources of `types` whose `prop` names `target`: by value (one of `keys`, the target's
 * name or id), or by the property dependency of `prop` on the target's URN, which is how the link
 * shows before the value is known.
 */
export function referencing(
  resources: PolicyResource[],
  types: readonly string[],
  target: PolicyResource,
  prop: string,
  keys: unknown[],
): PolicyResource[] {
  const values = new Set(keys.filter((v): v is string => typeof v === "string" && v !== ""));
  return ofTypes(resources, types).filter((r) => {
    const v = (r.props as Record<string, unknown>)[prop];
    if (typeof v === "string" && values.has(v)) return true;
    return (r.propertyDependencies[prop] ?? []).some((d) => d.urn === target.urn);
  });
}

/** Backup buckets: those whose name matches the pack's pattern (naming.backupBucketName). */
export function backupBuckets(resources: PolicyResource[], pattern: string): PolicyResource[] {
  const re = new RegExp(pattern);
  return ofTypes(resources, TYPES.buckets).filter((b) => re.test(bucketName(b)));
}

/** Default pattern of a backup bucket's name: `<name>-<site>-backups-<account id>`. */
export const BACKUP_BUCKET_PATTERN = "-backups-\\d{12}$";

/** The `backupBucketPattern` entry of a bucket rule's `configSchema`. */
export const BACKUP_BUCKET_PATTERN_PROPERTY = {
  type: "string" as const,
  default: BACKUP_BUCKET_PATTERN,
  description: "Regular expression a backup bucket's name matches.",
};

/** The `region` part of an ARN (empty for global services such as S3 and IAM). */
export function arnRegion(arn: string): string | undefined {
  const parts = arn.split(":");
  return parts.length >= 6 && parts[0] === "arn" ? parts[3] : undefined;
}
