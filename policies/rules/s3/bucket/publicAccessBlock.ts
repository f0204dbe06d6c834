import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { attachedTo, bucketName, ofTypes, propsOf, TYPES } from "../../../lib/resources";

const SETTINGS = [
  "blockPublicAcls",
  "blockPublicPolicy",
  "ignorePublicAcls",
  "restrictPublicBuckets",
] as const;

/**
 * Every bucket has a public access block with all four settings on.
 *
 * Severity: critical; enforcement: mandatory. A public backup bucket is the whole database,
 * published. The account-level block may be off in some accounts; the bucket's own block makes
 * this stack safe wherever it is deployed.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
 */
export const drS3BucketPublicAccessBlock: StackValidationPolicy = {
  name: "dr-s3-bucket-public-access-block",
  description: "S3 buckets block every form of public access.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
  validateStack: (args, reportViolation) => {
    for (const bucket of ofTypes(args.resources, TYPES.buckets)) {
      const name = bucketName(bucket);
      const blocks = attachedTo(args.resources, TYPES.publicAccessBlock, bucket);
      if (blocks.length === 0) {
        reportViolation(
          `bucket ${name} has no BucketPublicAccessBlock: add one with ${SETTINGS.join(", ")} all true`,
          bucket.urn,
        );
      }
      for (const block of blocks) {
        const p = propsOf<aws.s3.BucketPublicAccessBlockArgs>(block);
        const off = SETTINGS.filter((s) => p[s] !== true);
        if (off.length > 0) {
          reportViolation(
            `bucket ${name}'s public access block leaves ${off.join(", ")} off; set all four to true`,
            block.urn,
          );
        }
      }
    }
  },
};
