import type * as aws from "@pulumi/aws";
import type { PolicyResource } from "@pulumi/policy";
import { conditionValues, list, statements } from "./iam";
import { ofTypes, propsOf, referencing, TYPES } from "./resources";

/**
 * ServiceAccounts of the cluster's own add-ons (the EBS CSI controller, `ebs-csi-controller-sa`),
 * never a job's: their permissions are AWS's managed add-on policies (the EBS CSI driver must
 * delete the volumes it provisioned, reclaimPolicy Delete), and no job runs in kube-system.
 */
const ADDON_SUBJECT_PREFIX = "system:serviceaccount:kube-system:";

/**
 * Whether a role is a job identity: assumed by pods, through the cluster's OIDC provider for a
 * Kubernetes ServiceAccount (IRSA, `system:serviceaccount:` subject outside kube-system) or
 * through EKS Pod Identity.
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
          (conditionValues(s, op, k) ?? []).some(
            (v) =>
              String(v).startsWith("system:serviceaccount:") &&
              !String(v).startsWith(ADDON_SUBJECT_PREFIX),
          ),
        ),
    );
  });
}

/** Every policy document a role holds, labelled for messages; unreadable ones as `undefined`. */
export function documentsOf(
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
