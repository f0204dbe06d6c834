import type * as aws from "@pulumi/aws";
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { thresholds } from "../../../lib/config";
import { conditionValues, grantedForbidden, list, statements } from "../../../lib/iam";
import { ofTypes, propsOf, referencing, TYPES } from "../../../lib/resources";

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
 * Whether a role is a job identity: assumed by pods, through the cluster's OIDC provider for a
 * Kubernetes ServiceAccount (IRSA, `system:serviceaccount:` subject) or through EKS Pod Identity.
 * https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
 * https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html
 */
export function isJobRole(role: PolicyResource): boolean {
  return statements(propsOf<aws.iam.RoleArgs>(role).assumeRolePolicy).some((s) => {
    if (s.Effect !== "Allow") return false;
    const p = (s.Principal ?? {}) as { Federated?: string | string[]; Service?: string | string[] };
    if (list(p.Service).includes("pods.eks.amazonaws.com")) return true;
    if (!list(p.Federated).some((f) => f.includes(":oidc-provider/"))) return false;
    return ["StringEquals", "StringLike"].some((op) =>
      Object.keys(s.Condition?.[op] ?? {})
        .filter((k) => k.endsWith(":sub"))
        .some((k) =>
          (conditionValues(s, op, k) ?? []).some((v) =>
            String(v).startsWith("system:serviceaccount:"),
          ),
        ),
    );
  });
}

/** Every policy document a role holds, labelled for messages; unreadable ones as `undefined`. */
function documentsOf(
  resources: PolicyResource[],
  role: PolicyResource,
): { where: string; urn: string; policy: unknown }[] {
  const r = propsOf<aws.iam.RoleArgs>(role);
  const keys = [r.name, (role.props as { id?: unknown }).id];
  const inline = referencing(resources, TYPES.rolePolicy, role, "role", keys).map((p) => ({
    where: `inline policy ${propsOf<aws.iam.RolePolicyArgs>(p).name ?? p.name}`,
    urn: p.urn,
    policy: propsOf<aws.iam.RolePolicyArgs>(p).policy,
  }));
  const legacy = (r.inlinePolicies ?? []).map((p) => ({
    where: `inline policy ${p.name ?? "(unnamed)"}`,
    urn: role.urn,
    policy: p.policy,
  }));
  const attached = referencing(resources, TYPES.rolePolicyAttachment, role, "role", keys).map(
    (a) => {
      const arn = propsOf<aws.iam.RolePolicyAttachmentArgs>(a).policyArn;
      const managed = ofTypes(resources, TYPES.policy).find(
        (p) =>
          (a.propertyDependencies.policyArn ?? []).some((d) => d.urn === p.urn) ||
          (p.props as { arn?: unknown }).arn === arn,
      );
      return {
        where: `attached policy ${managed?.name ?? arn ?? "(unknown)"}`,
        urn: a.urn,
        policy: managed ? propsOf<aws.iam.PolicyArgs>(managed).policy : undefined,
      };
    },
  );
  const unlisted = (r.managedPolicyArns ?? []).map((arn) => ({
    where: `attached policy ${arn}`,
    urn: role.urn,
    policy: undefined,
  }));
  return [...inline, ...legacy, ...attached, ...unlisted];
}

/**
 * No job identity (a role pods assume: backup writer, verify, status, drill) is allowed any
 * delete, `s3:BypassGovernanceRetention`, or a bucket setting that would undo the backups'
 * protection (lifecycle, bucket policy, versioning, Object Lock configuration) — not even through
 * a wildcard such as `s3:*`, and not through `NotAction`. Lifecycle rules expire old backups; a job
 * never needs to remove one, so a stolen job token cannot either (DESIGN §4, §8).
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
