import type { StackValidationPolicy } from "@pulumi/policy";
import { daysProperty, thresholds } from "../../../lib/config";
import { covers, enabledRules, rulePrefix, BACKUP_PREFIXES } from "../../../lib/lifecycle";
import {
  attachedTo,
  BACKUP_BUCKET_PATTERN_PROPERTY,
  backupBuckets,
  bucketName,
  TYPES,
} from "../../../lib/resources";

interface Config {
  maxDaysAfterInitiation: number;
  backupBucketPattern: string;
}

const configSchema = {
  properties: {
    maxDaysAfterInitiation: daysProperty(
      "Longest an incomplete multipart upload may linger before it is aborted.",
      7,
    ),
    backupBucketPattern: BACKUP_BUCKET_PATTERN_PROPERTY,
  },
};

/**
 * Every tier prefix of a backup bucket (`pre-restore/` included) is covered by an enabled lifecycle rule that aborts
 * incomplete multipart uploads within 7 days (by default).
 *
 * Severity: medium; enforcement: mandatory. drctl streams dumps as multipart uploads; one killed
 * mid-upload leaves parts that are billed forever, invisible to a listing, and never expire with
 * the tier's objects.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpu-abort-incomplete-mpu-lifecycle-config.html
 */
export const drS3BucketAbortMultipart: StackValidationPolicy = {
  name: "dr-s3-bucket-abort-multipart",
  description: "Backup buckets abort incomplete multipart uploads.",
  enforcementLevel: "mandatory",
  severity: "medium",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpu-abort-incomplete-mpu-lifecycle-config.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const cfg = thresholds<Config>(configSchema, args);
    for (const bucket of backupBuckets(args.resources, cfg.backupBucketPattern)) {
      const rules = enabledRules(attachedTo(args.resources, TYPES.lifecycle, bucket));
      const uncovered = Object.values(BACKUP_PREFIXES).filter(
        (prefix) =>
          !rules.some((r) => {
            const days = r.abortIncompleteMultipartUpload?.daysAfterInitiation;
            return (
              covers(rulePrefix(r), prefix) &&
              days !== undefined &&
              days <= cfg.maxDaysAfterInitiation
            );
          }),
      );
      if (uncovered.length > 0) {
        reportViolation(
          `backup bucket ${bucketName(bucket)} does not abort incomplete multipart uploads under ` +
            `${uncovered.join(", ")}: add an enabled lifecycle rule with ` +
            `abortIncompleteMultipartUpload.daysAfterInitiation at most ${cfg.maxDaysAfterInitiation}`,
          bucket.urn,
        );
      }
    }
  },
};
