import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { thresholds } from "../../../lib/config";
import {
  conditionValues,
  isEveryone,
  isTrue,
  list,
  patternCovers,
  patternsIntersect,
  statements,
  type Statement,
} from "../../../lib/iam";
import { BACKUP_PREFIXES } from "../../../lib/lifecycle";
import {
  attachedTo,
  BACKUP_BUCKET_PATTERN_PROPERTY,
  backupBuckets,
  bucketName,
  propsOf,
  TYPES,
} from "../../../lib/resources";

const configSchema = { properties: { backupBucketPattern: BACKUP_BUCKET_PATTERN_PROPERTY } };

const NONE_MATCH = "s3:if-none-match";
const CREATION = "s3:ObjectCreationOperation";

/** The condition create-only backups: docs/architecture.md §4 fixes: deny when If-None-Match is absent, on object creations only. */
const EXPECTED = `{"Null":{"${NONE_MATCH}":"true"},"Bool":{"${CREATION}":"true"}}`;

/** Deny, to everyone, of s3:PutObject, on some resource; what its condition is, in C4's terms. */
function shape(s: Statement): "create-only" | "no-multipart-exemption" | undefined {
  if (s.Effect !== "Deny" || !isEveryone(s.Principal) || s.NotAction || s.NotResource) return;
  if (!list(s.Action).some((a) => patternsIntersect(a, "s3:PutObject"))) return;
  const nullValues = conditionValues(s, "Null", NONE_MATCH);
  if (!nullValues || nullValues.length !== 1 || !isTrue(nullValues[0])) return;
  const blocks = Object.values(s.Condition ?? {}).flatMap((b) => Object.keys(b));
  const creation = conditionValues(s, "Bool", CREATION);
  if (creation === undefined) return blocks.length === 1 ? "no-multipart-exemption" : undefined;
  // Any further condition would narrow the deny to fewer requests than C4 requires.
  return blocks.length === 2 && creation.length === 1 && isTrue(creation[0])
    ? "create-only"
    : undefined;
}

/**
 * Every backup bucket's policy refuses object creation under `daily/`, `weekly/`, `monthly/` and
 * `pre-restore/` unless the request carries `If-None-Match` (create-only backups, docs/architecture.md §4): a Deny to `*` of `s3:PutObject` with
 * the condition `{"Null":{"s3:if-none-match":"true"},"Bool":{"s3:ObjectCreationOperation":"true"}}`.
 * So a backup, once written, cannot be replaced by a new version under the same key, even by a
 * principal whose own policy allows PutObject. The `s3:ObjectCreationOperation` clause exempts
 * CreateMultipartUpload, UploadPart and UploadPartCopy, which are authorized as `s3:PutObject`
 * but cannot carry the header; without it every multipart upload (every dump drctl streams)
 * fails at its first part.
 *
 * Severity: critical; enforcement: mandatory. A stack policy: the bucket policy is its own
 * resource in aws v7.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
 */
export const drS3BucketCreateOnly: StackValidationPolicy = {
  name: "dr-s3-bucket-create-only",
  description:
    "Backup bucket policies refuse writes under the tier prefixes without If-None-Match.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const { backupBucketPattern } = thresholds<{ backupBucketPattern: string }>(configSchema, args);
    for (const bucket of backupBuckets(args.resources, backupBucketPattern)) {
      const name = bucketName(bucket);
      const all = attachedTo(args.resources, TYPES.bucketPolicy, bucket).flatMap((p) =>
        statements(propsOf<aws.s3.BucketPolicyArgs>(p).policy),
      );
      const covers = (kind: ReturnType<typeof shape>, prefix: string) =>
        all.some(
          (s) =>
            shape(s) === kind &&
            list(s.Resource).some((r) =>
              patternCovers(r.replace(/^arn:[^:]+:/, "arn:*:"), `arn:*:s3:::${name}/${prefix}*`),
            ),
        );
      const missing = Object.values(BACKUP_PREFIXES).filter((p) => !covers("create-only", p));
      if (missing.length === 0) continue;
      if (missing.every((p) => covers("no-multipart-exemption", p))) {
        reportViolation(
          `backup bucket ${name}'s policy denies PutObject without If-None-Match under ` +
            `${missing.join(", ")} but does not exempt multipart steps, so every multipart upload ` +
            `fails at its first part: add "Bool":{"${CREATION}":"true"} to that condition`,
          bucket.urn,
        );
        continue;
      }
      const resources = missing.map((p) => `"arn:aws:s3:::${name}/${p}*"`).join(",");
      reportViolation(
        `backup bucket ${name}'s policy does not refuse overwrites under ${missing.join(", ")}: ` +
          `add {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":[${resources}],` +
          `"Condition":${EXPECTED}}`,
        bucket.urn,
      );
    }
  },
};
