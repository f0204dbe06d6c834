import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { attachedTo, bucketName, ofTypes, propsOf, TYPES } from "../../../lib/resources";

interface Statement {
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

function statements(policy: unknown): Statement[] {
  let doc: unknown = policy;
  if (typeof policy === "string") {
    try {
      doc = JSON.parse(policy);
    } catch {
      return [];
    }
  }
  return list((doc as { Statement?: Statement | Statement[] } | undefined)?.Statement);
}

const anyone = (p: unknown): boolean =>
  p === "*" || list((p as { AWS?: string | string[] } | undefined)?.AWS).includes("*");

/** A statement that denies every S3 action, to anyone, on the objects, over plain HTTP. */
export function deniesInsecureTransport(s: Statement): boolean {
  const insecure = s.Condition?.Bool?.["aws:SecureTransport"];
  return (
    s.Effect === "Deny" &&
    anyone(s.Principal) &&
    list(s.Action).some((a) => a === "s3:*" || a === "*") &&
    list(s.Resource).some((r) => r === "*" || r.endsWith("/*")) &&
    (insecure === false || insecure === "false")
  );
}

/**
 * Every bucket's policy denies requests that are not over TLS (`aws:SecureTransport` false).
 *
 * Severity: high; enforcement: mandatory. Encryption at rest does not protect a dump read or
 * written over plain HTTP. A stack policy because aws v7's `BucketPolicy` is its own resource.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit
 */
export const drS3BucketTlsOnly: StackValidationPolicy = {
  name: "dr-s3-bucket-tls-only",
  description: "S3 bucket policies deny any request not made over TLS.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit",
  validateStack: (args, reportViolation) => {
    for (const bucket of ofTypes(args.resources, TYPES.buckets)) {
      const policies = attachedTo(args.resources, TYPES.bucketPolicy, bucket);
      const ok = policies.some((p) =>
        statements(propsOf<aws.s3.BucketPolicyArgs>(p).policy).some(deniesInsecureTransport),
      );
      if (!ok) {
        reportViolation(
          `bucket ${bucketName(bucket)} has no policy statement denying non-TLS requests: add ` +
            `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":[bucket ARN, bucket ARN/*],` +
            `"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
          bucket.urn,
        );
      }
    }
  },
};
