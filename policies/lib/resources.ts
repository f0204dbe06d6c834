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
  const ids = new Set(
    [(bucket.props as { bucket?: unknown }).bucket, (bucket.props as { id?: unknown }).id].filter(
      (v): v is string => typeof v === "string" && v !== "",
    ),
  );
  return ofTypes(resources, types).filter((r) => {
    const target = (r.props as { bucket?: unknown }).bucket;
    if (typeof target === "string" && ids.has(target)) return true;
    return (r.propertyDependencies.bucket ?? []).some((d) => d.urn === bucket.urn);
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
