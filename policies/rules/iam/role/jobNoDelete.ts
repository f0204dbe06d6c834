import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { thresholds } from "../../../lib/config";
import { grantedForbidden, statements } from "../../../lib/iam";
import { documentsOf, isJobRole } from "../../../lib/jobRole";
import { ofTypes, propsOf, TYPES } from "../../../lib/resources";

const configSchema = {
  properties: {
    forbiddenActions: {
      type: "array" as const,
      items: { type: "string" as const },
      default: [
        "*:Delete*",
        "s3:BypassGovernanceRetention",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketPolicy",
        "s3:PutBucketVersioning",
        "s3:PutBucketObjectLockConfiguration",
      ],
      description:
        "Actions (IAM wildcards allowed) no job identity may be allowed, even through a wildcard.",
    },
  },
};

/**
 * No job identity (a role pods assume: backup writer, verify, status, drill) is allowed any
 * delete, `s3:BypassGovernanceRetention`, or a bucket setting that would undo the backups'
 * protection (lifecycle, bucket policy, versioning, Object Lock configuration) — not even through
 * a wildcard such as `s3:*`, and not through `NotAction`. Lifecycle rules expire old backups; a job
 * never needs to remove one, so a stolen job token cannot either (docs/architecture.md §4, §8).
 *
 * Severity: critical; enforcement: mandatory. Checks inline policies, attached policies declared
 * in the stack, and refuses attachments whose document the stack does not declare (an AWS-managed
 * policy, an ARN from elsewhere): what the pack cannot read it cannot vouch for.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass
 */
export const drIamRoleJobNoDelete: StackValidationPolicy = {
  name: "dr-iam-role-job-no-delete",
  description: "Job identities may not delete, bypass Object Lock, or loosen the backup bucket.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
  configSchema,
  validateStack: (args, reportViolation) => {
    const { forbiddenActions } = thresholds<{ forbiddenActions: string[] }>(configSchema, args);
    for (const role of ofTypes(args.resources, TYPES.role).filter(isJobRole)) {
      const roleName = propsOf<aws.iam.RoleArgs>(role).name ?? role.name;
      for (const doc of documentsOf(args.resources, role)) {
        const at = `job role ${roleName}, ${doc.where}`;
        if (doc.policy === undefined) {
          reportViolation(
            `${at}: its document is not declared in this stack, so the pack cannot check it; ` +
              `give the role an inline policy (aws.iam.RolePolicy) instead`,
            doc.urn,
          );
          continue;
        }
        for (const s of statements(doc.policy)) {
          if (s.Effect === "Allow" && s.NotAction !== undefined) {
            reportViolation(
              `${at} allows NotAction ${JSON.stringify(s.NotAction)}, which grants every other ` +
                `action; list the actions the job needs`,
              doc.urn,
            );
          }
          const granted = grantedForbidden(s, forbiddenActions);
          if (granted.length > 0) {
            const which = forbiddenActions.filter((f) =>
              granted.some((g) => grantedForbidden({ Effect: "Allow", Action: g }, [f]).length),
            );
            reportViolation(
              `${at} allows ${granted.join(", ")}, which grants ${which.join(", ")}; a job ` +
                `identity never deletes or loosens a backup: remove ${granted.length === 1 ? "it" : "them"}`,
              doc.urn,
            );
          }
        }
      }
    }
  },
};
