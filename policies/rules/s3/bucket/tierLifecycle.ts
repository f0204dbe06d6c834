import type { StackValidationPolicy } from "@pulumi/policy";
import {
  daysProperty,
  thresholds,
  tierDaysProperties,
  tierFloors,
  type TierDaysConfig,
} from "../../../lib/config";
import {
  BACKUP_PREFIXES,
  enabledRules,
  overlaps,
  rulePrefix,
  type BackupTier,
} from "../../../lib/lifecycle";
import {
  attachedTo,
  BACKUP_BUCKET_PATTERN_PROPERTY,
  backupBuckets,
  bucketName,
  TYPES,
} from "../../../lib/resources";

interface Config extends TierDaysConfig {
  preRestoreDays: number;
  backupBucketPattern: string;
}

const configSchema = {
  properties: {
    ...tierDaysProperties((tier) => `Days a ${tier}/ dump is kept at least.`),
    preRestoreDays: daysProperty(
      "Days a pre-restore/ backup (what a restore replaced) is kept at least: the undo window.",
      7,
    ),
    backupBucketPattern: BACKUP_BUCKET_PATTERN_PROPERTY,
  },
};

/**
 * Each tier prefix of a backup bucket (`daily/`, `weekly/`, `monthly/`, `pre-restore/`) has an
 * enabled lifecycle rule that expires it, and no enabled rule expires that tier's objects sooner
 * than its floor (7 / 28 / 365 / 7 days by default, DESIGN §4; pre-restore's is how long a restore
 * can be undone) — including a broader rule, such as a whole-bucket expiration, that would quietly
 * cut the monthly tier short.
 *
 * Severity: high; enforcement: mandatory. A stack policy because the lifecycle configuration is
 * its own resource in aws v7.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html
 */
export const drS3BucketTierLifecycle: StackValidationPolicy = {
  name: "dr-s3-bucket-tier-lifecycle",
  description: "Backup buckets expire each tier prefix, never before its retention floor.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const cfg = thresholds<Config>(configSchema, args);
    const floors: Record<BackupTier, number> = {
      ...tierFloors(configSchema, args),
      "pre-restore": cfg.preRestoreDays,
    };
    for (const bucket of backupBuckets(args.resources, cfg.backupBucketPattern)) {
      const name = bucketName(bucket);
      const configs = attachedTo(args.resources, TYPES.lifecycle, bucket);
      if (configs.length === 0) {
        reportViolation(
          `backup bucket ${name} has no BucketLifecycleConfiguration: add an expiration rule per ` +
            `tier prefix (daily/ ${floors.daily}, weekly/ ${floors.weekly}, monthly/ ` +
            `${floors.monthly}, pre-restore/ ${floors["pre-restore"]} days)`,
          bucket.urn,
        );
        continue;
      }
      const rules = enabledRules(configs);
      for (const [tier, prefix] of Object.entries(BACKUP_PREFIXES) as [BackupTier, string][]) {
        const floor = floors[tier];
        const own = rules.filter(
          (r) => rulePrefix(r) === prefix && r.expiration?.days !== undefined,
        );
        if (own.length === 0) {
          reportViolation(
            `backup bucket ${name} has no enabled lifecycle rule expiring ${prefix}: add one with ` +
              `filter.prefix "${prefix}" and expiration.days at least ${floor}`,
            bucket.urn,
          );
        }
        for (const r of rules.filter((x) => overlaps(rulePrefix(x), prefix))) {
          const days = r.expiration?.days;
          if (days !== undefined && days < floor) {
            reportViolation(
              `backup bucket ${name}: lifecycle rule "${r.id}" expires ${prefix} objects after ` +
                `${days} days; the ${tier} tier must keep them at least ${floor} days`,
              bucket.urn,
            );
          }
        }
      }
    }
  },
};
