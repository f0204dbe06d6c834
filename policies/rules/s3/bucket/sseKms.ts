import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { attachedTo, bucketName, ofTypes, propsOf, TYPES } from "../../../lib/resources";

/**
 * Every bucket has a server-side encryption configuration with SSE-KMS and a named key.
 *
 * Severity: high; enforcement: mandatory. Backups hold the whole database. A customer-managed key
 * (the site key) lets the key policy decide who can read a dump — S3's own SSE-S3 key and the
 * AWS-managed `aws/s3` key cannot be constrained that way, and replication re-encrypts with the
 * peer's key. A stack policy because aws v7 declares encryption as its own resource
 * (`BucketServerSideEncryptionConfiguration`), linked to the bucket by its `bucket` property.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
 */
export const drS3BucketSseKms: StackValidationPolicy = {
  name: "dr-s3-bucket-sse-kms",
  description: "S3 buckets encrypt with SSE-KMS under a customer-managed key.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
  validateStack: (args, reportViolation) => {
    for (const bucket of ofTypes(args.resources, TYPES.buckets)) {
      const name = bucketName(bucket);
      const configs = attachedTo(args.resources, TYPES.sse, bucket);
      if (configs.length === 0) {
        reportViolation(
          `bucket ${name} has no BucketServerSideEncryptionConfiguration: add one with ` +
            `sseAlgorithm "aws:kms" and kmsMasterKeyId set to the site key`,
          bucket.urn,
        );
        continue;
      }
      for (const config of configs) {
        const rules = propsOf<aws.s3.BucketServerSideEncryptionConfigurationArgs>(config).rules;
        const defaults = (rules ?? []).map((r) => r.applyServerSideEncryptionByDefault);
        if (defaults.length === 0) {
          reportViolation(
            `bucket ${name}'s encryption configuration has no rule: add one with sseAlgorithm "aws:kms"`,
            config.urn,
          );
        }
        for (const d of defaults) {
          const algorithm = d?.sseAlgorithm;
          if (algorithm !== "aws:kms" && algorithm !== "aws:kms:dsse") {
            reportViolation(
              `bucket ${name} encrypts with ${JSON.stringify(algorithm ?? null)}; expected ` +
                `"aws:kms" with the site's customer-managed key`,
              config.urn,
            );
          } else if (!d?.kmsMasterKeyId) {
            reportViolation(
              `bucket ${name} uses ${algorithm} without kmsMasterKeyId, which falls back to the ` +
                `AWS-managed aws/s3 key; set kmsMasterKeyId to the site key`,
              config.urn,
            );
          }
        }
      }
    }
  },
};
