import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { daysProperty, thresholds } from "../../../lib/config";
import {
  attachedTo,
  BACKUP_BUCKET_PATTERN_PROPERTY,
  backupBuckets,
  bucketName,
  propsOf,
  TYPES,
} from "../../../lib/resources";

interface Config {
  minimumDefaultDays: number;
  backupBucketPattern: string;
}

const configSchema = {
  properties: {
    minimumDefaultDays: daysProperty(
      "Fewest days of the bucket's default retention (the daily tier's floor).",
      7,
    ),
    backupBucketPattern: BACKUP_BUCKET_PATTERN_PROPERTY,
  },
};

/** The retention modes S3 Object Lock knows. */
export const LOCK_MODES = ["GOVERNANCE", "COMPLIANCE"] as const;

/**
 * Every backup bucket has Object Lock enabled (a `BucketObjectLockConfiguration`, which also
 * turns it on for an existing versioned bucket) with a default retention in GOVERNANCE or
 * COMPLIANCE mode of at least 7 days. The default retention is the safety net for any object
 * drctl does not lock itself (create-only backups: docs/architecture.md §4: drctl sets each tier's retention per object, which
 * `dr-kubernetes-cronjob-object-lock-days` checks); a locked version cannot be deleted or
 * overwritten, by a caller or by a lifecycle rule, until its retention ends.
 *
 * Severity: critical; enforcement: mandatory. This is what keeps a backup when everything the
 * jobs hold is stolen (the ransomware case). Retention is `days`, or `years` counted as 365 days.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html
 */
export const drS3BucketObjectLock: StackValidationPolicy = {
  name: "dr-s3-bucket-object-lock",
  description: "Backup buckets have Object Lock on, with a default retention.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const cfg = thresholds<Config>(configSchema, args);
    for (const bucket of backupBuckets(args.resources, cfg.backupBucketPattern)) {
      const name = bucketName(bucket);
      const locks = attachedTo(args.resources, TYPES.objectLock, bucket);
      if (locks.length === 0) {
        reportViolation(
          `backup bucket ${name} has no BucketObjectLockConfiguration: add one with ` +
            `rule.defaultRetention { mode "GOVERNANCE" or "COMPLIANCE", days at least ` +
            `${cfg.minimumDefaultDays} }`,
          bucket.urn,
        );
        continue;
      }
      for (const lock of locks) {
        const p = propsOf<aws.s3.BucketObjectLockConfigurationArgs>(lock);
        const enabled = p.objectLockEnabled ?? "Enabled";
        if (enabled !== "Enabled") {
          reportViolation(
            `backup bucket ${name} has objectLockEnabled "${enabled}"; the only valid value is "Enabled"`,
            lock.urn,
          );
          continue;
        }
        const retention = p.rule?.defaultRetention;
        if (!retention) {
          reportViolation(
            `backup bucket ${name} has Object Lock without a default retention: set ` +
              `rule.defaultRetention so that no new object version is left unlocked`,
            lock.urn,
          );
          continue;
        }
        const mode = retention.mode;
        if (!LOCK_MODES.includes(mode as (typeof LOCK_MODES)[number])) {
          reportViolation(
            `backup bucket ${name}'s default retention has mode ${mode ?? "unset"}; set ` +
              `"GOVERNANCE" or "COMPLIANCE"`,
            lock.urn,
          );
        }
        const days = retention.days ?? (retention.years ?? 0) * 365;
        if (days < cfg.minimumDefaultDays) {
          reportViolation(
            `backup bucket ${name}'s default retention is ${days} days; lock new versions at ` +
              `least ${cfg.minimumDefaultDays} days`,
            lock.urn,
          );
        }
      }
    }
  },
};
