import type * as aws from "@pulumi/aws";
import type { PolicyResource, ReportViolation, StackValidationPolicy } from "@pulumi/policy";
import type * as pulumi from "@pulumi/pulumi";
import { thresholds } from "../../../lib/config";
import { covers, BACKUP_PREFIXES } from "../../../lib/lifecycle";
import {
  arnRegion,
  attachedTo,
  BACKUP_BUCKET_PATTERN_PROPERTY,
  backupBuckets,
  bucketName,
  ofTypes,
  propsOf,
  TYPES,
} from "../../../lib/resources";
import { primaryInstances } from "../../../lib/role";

type ReplicationRule = pulumi.Unwrap<aws.types.input.s3.BucketReplicationConfigRule>;

interface Config {
  rtcMinutes: number;
  backupBucketPattern: string;
}

const configSchema = {
  properties: {
    rtcMinutes: {
      type: "integer" as const,
      default: 15,
      description: "Replication Time Control threshold; 15 minutes is the only value S3 accepts.",
    },
    backupBucketPattern: BACKUP_BUCKET_PATTERN_PROPERTY,
  },
};

const rulePrefix = (r: ReplicationRule): string =>
  r.filter?.prefix ?? r.filter?.and?.prefix ?? r.prefix ?? "";

function checkRule(
  rule: ReplicationRule,
  source: string,
  region: string | undefined,
  localBuckets: Set<string>,
  minutes: number,
  report: (message: string) => void,
): void {
  const id = rule.id ?? "(unnamed)";
  const d = rule.destination;
  const target = d?.bucket ?? "";
  if (localBuckets.has(target.replace(/^arn:[^:]+:s3:::/, ""))) {
    report(
      `bucket ${source} replication rule ${id} targets ${target}, a bucket of this same site; ` +
        `replicate to the peer region's backup bucket`,
    );
  }
  if (d?.replicationTime?.status !== "Enabled" || d.replicationTime.time?.minutes !== minutes) {
    report(
      `bucket ${source} replication rule ${id} lacks Replication Time Control: set ` +
        `destination.replicationTime {status "Enabled", time.minutes ${minutes}}`,
    );
  }
  if (d?.metrics?.status !== "Enabled" || d.metrics.eventThreshold?.minutes !== minutes) {
    report(
      `bucket ${source} replication rule ${id} lacks replication metrics, which RTC requires: set ` +
        `destination.metrics {status "Enabled", eventThreshold.minutes ${minutes}}`,
    );
  }
  if (rule.sourceSelectionCriteria?.sseKmsEncryptedObjects?.status !== "Enabled") {
    report(
      `bucket ${source} replication rule ${id} skips SSE-KMS objects (every backup is one): set ` +
        `sourceSelectionCriteria.sseKmsEncryptedObjects.status "Enabled"`,
    );
  }
  const key = d?.encryptionConfiguration?.replicaKmsKeyId;
  if (!key) {
    report(
      `bucket ${source} replication rule ${id} has no destination.encryptionConfiguration.replicaKmsKeyId: ` +
        `name the peer site's key (naming.kmsAliasArn)`,
    );
  } else if (region !== undefined && arnRegion(key) === region) {
    report(
      `bucket ${source} replication rule ${id} re-encrypts with ${key}, a key in this bucket's own ` +
        `region ${region}; the replica must land in the peer region, under the peer's key`,
    );
  }
}

/**
 * A PRIMARY-role site's backup bucket replicates every tier to another region with S3 Replication
 * Time Control (15 minutes), replication metrics, SSE-KMS objects included and re-encrypted with
 * the peer's key; and any replication configuration, whatever the role, meets the same bar.
 *
 * Severity: high; enforcement: mandatory. RTC is what bounds the RPO of the logical dumps: without
 * it S3 replicates "most objects in seconds" with no upper bound; without
 * `sseKmsEncryptedObjects` S3 silently skips every KMS-encrypted backup. The primary role is read
 * from the database's shape (policies/lib/role.ts). The destination's region is proven by its
 * replica key's ARN (an S3 ARN carries no region) and by the bucket not being this site's own.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html
 */
export const drS3BucketReplicationRtc: StackValidationPolicy = {
  name: "dr-s3-bucket-replication-rtc",
  description:
    "A primary site's backup bucket replicates to another region with Replication Time Control.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html",
  configSchema,
  validateStack: (args, reportViolation: ReportViolation) => {
    const cfg = thresholds<Config>(configSchema, args);
    const buckets = ofTypes(args.resources, TYPES.buckets);
    const localBuckets = new Set(buckets.map(bucketName));
    const isPrimary = primaryInstances(args.resources).length > 0;
    const backup = new Set(backupBuckets(args.resources, cfg.backupBucketPattern));

    for (const bucket of buckets) {
      const name = bucketName(bucket);
      const configs: PolicyResource[] = attachedTo(args.resources, TYPES.replication, bucket);
      if (isPrimary && backup.has(bucket) && configs.length === 0) {
        reportViolation(
          `backup bucket ${name} of a primary site has no BucketReplicationConfig: replicate it to ` +
            `the peer region's backup bucket with Replication Time Control`,
          bucket.urn,
        );
        continue;
      }
      for (const config of configs) {
        const p = propsOf<aws.s3.BucketReplicationConfigArgs>(config);
        const region = p.region ?? (bucket.props as { region?: string }).region;
        const rules = (p.rules ?? []).filter((r) => r.status === "Enabled");
        for (const rule of rules) {
          checkRule(rule, name, region, localBuckets, cfg.rtcMinutes, (m) =>
            reportViolation(m, config.urn),
          );
        }
        if (backup.has(bucket)) {
          const missing = Object.values(BACKUP_PREFIXES).filter(
            (prefix) => !rules.some((r) => covers(rulePrefix(r), prefix)),
          );
          if (missing.length > 0) {
            reportViolation(
              `backup bucket ${name} does not replicate ${missing.join(", ")}: add an enabled rule ` +
                `covering every tier (an empty filter prefix covers the whole bucket)`,
              config.urn,
            );
          }
        }
      }
    }
  },
};
