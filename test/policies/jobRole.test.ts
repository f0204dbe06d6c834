import type { PolicyResource } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { irsaTrustPolicy } from "../../components/platform/irsa";
import { isJobRole } from "../../policies/lib/jobRole";

const OIDC = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";
const role = (subject: string) =>
  ({
    props: {
      assumeRolePolicy: irsaTrustPolicy(
        `arn:aws:iam::111122223333:oidc-provider/${OIDC}`,
        OIDC,
        subject,
      ),
    },
  }) as unknown as PolicyResource;

describe("which roles the job-identity rules check", () => {
  it("every IRSA role of a workload ServiceAccount, but not the cluster add-ons' in kube-system", () => {
    expect(isJobRole(role("system:serviceaccount:dr-backup:drctl-writer"))).toBe(true);
    expect(isJobRole(role("system:serviceaccount:default:anything"))).toBe(true);
    // The EBS CSI controller deletes the volumes it provisioned (AmazonEBSCSIDriverPolicy);
    // it is no backup job: components/platform/ebsCsi.ts.
    expect(isJobRole(role("system:serviceaccount:kube-system:ebs-csi-controller-sa"))).toBe(false);
    // A namespace that merely starts with "kube-system" is still a workload's.
    expect(isJobRole(role("system:serviceaccount:kube-system-jobs:x"))).toBe(true);
  });
});
