import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { thresholds } from "../../../lib/config";
import {
  attachedTo,
  BACKUP_BUCKET_PATTERN_PROPERTY,
  backupBuckets,
  bucketName,
  propsOf,
  TYPES,
} from "../../../lib/resources";

const configSchema = { properties: { backupBucketPattern: BACKUP_BUCKET_PATTERN_PROPERTY } };

/**
 * Every backup bucket has versioning enabled (a `BucketVersioning` with status `Enabled`).
 *
 * Severity: high; enforcement: mandatory. Without versioning an overwrite or delete destroys the
 * only copy; Object Lock and S3 replication both refuse to work on an unversioned bucket. A stack
 * policy because versioning is its own resource in aws v7.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
 */
export const drS3BucketVersioning: StackValidationPolicy = {
  name: "dr-s3-bucket-versioning",
  description: "Backup buckets keep every object version (versioning Enabled).",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const { backupBucketPattern } = thresholds<{ backupBucketPattern: string }>(configSchema, args);
    for (const bucket of backupBuckets(args.resources, backupBucketPattern)) {
      const name = bucketName(bucket);
      const configs = attachedTo(args.resources, TYPES.versioning, bucket);
      if (configs.length === 0) {
        reportViolation(
          `backup bucket ${name} has no BucketVersioning: add one with ` +
            `versioningConfiguration.status "Enabled"`,
          bucket.urn,
        );
        continue;
      }
      for (const c of configs) {
        const status = propsOf<aws.s3.BucketVersioningArgs>(c).versioningConfiguration?.status;
        if (status !== "Enabled") {
          reportViolation(
            `backup bucket ${name} has versioning ${status ?? "unset"}; set ` +
              `versioningConfiguration.status "Enabled" (a suspended bucket overwrites in place)`,
            c.urn,
          );
        }
      }
    }
  },
};
