import { describe, expect, it } from "vitest";
import { SCRATCH_STORAGE_CLASS } from "../../components/backups/cronJobs";
import { EBS_CSI } from "../../components/platform/ebsCsi";
import { siteKeyPolicy } from "../../components/platform/siteKey";
import { runStack, STACK_ROLES } from "../harness";

const OIDC = /^oidc\.eks\.us-east-1\.amazonaws\.com\/id\/[0-9A-F]{32}$/;

describe("EBS CSI driver (the drill's scratch volumes)", () => {
  it("installs the aws-ebs-csi-driver add-on with its own IRSA role, after the nodes", async () => {
    const run = await runStack("primary");
    const addon = run.one("aws:eks/addon:Addon", "acme-dr-use1-eks-ebs-csi");
    const role = run.one("aws:iam/role:Role", "acme-dr-use1-eks-ebs-csi");
    // "The Amazon EKS add-on name is aws-ebs-csi-driver"; its controller's ServiceAccount is
    // kube-system/ebs-csi-controller-sa.
    // https://docs.aws.amazon.com/eks/latest/userguide/add-ons-aws-ebs-csi-driver.html
    expect(addon.inputs).toMatchObject({
      region: "us-east-1",
      clusterName: "acme-dr-use1",
      addonName: "aws-ebs-csi-driver",
      serviceAccountRoleArn: `arn:aws:iam::111122223333:role/${role.id}`,
      resolveConflictsOnCreate: "OVERWRITE",
      resolveConflictsOnUpdate: "PRESERVE",
    });
    expect(addon.inputs.podIdentityAssociations).toBeUndefined();
    // The controller needs a node to run on and its permissions from its first start.
    expect(addon.dependsOn).toEqual(
      expect.arrayContaining([
        run.one("aws:eks/nodeGroup:NodeGroup").urn,
        run.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "acme-dr-use1-eks-ebs-csi")
          .urn,
        run.one("aws:iam/rolePolicy:RolePolicy", "acme-dr-use1-eks-ebs-csi-kms").urn,
      ]),
    );
  });

  it("trusts exactly kube-system/ebs-csi-controller-sa through the cluster's OIDC provider", async () => {
    const run = await runStack("primary");
    const trust = JSON.parse(
      run.one("aws:iam/role:Role", "acme-dr-use1-eks-ebs-csi").inputs.assumeRolePolicy,
    );
    const issuer = run
      .one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
      .inputs.url.replace("https://", "");
    expect(issuer).toMatch(OIDC);
    // https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
    expect(trust).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${issuer}` },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: {
              [`${issuer}:sub`]: "system:serviceaccount:kube-system:ebs-csi-controller-sa",
              [`${issuer}:aud`]: "sts.amazonaws.com",
            },
          },
        },
      ],
    });
  });

  it("attaches AmazonEBSCSIDriverPolicy and the customer-managed-key policy for the site key only", async () => {
    const run = await runStack("primary");
    expect(
      run.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "acme-dr-use1-eks-ebs-csi")
        .inputs.policyArn,
    ).toBe("arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy");
    const keyArn = run.outputs.kmsKeyArn;
    expect(keyArn).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\//);
    // "Create an Amazon EBS CSI driver IAM role", custom KMS key:
    // https://docs.aws.amazon.com/eks/latest/userguide/csi-iam-role.html
    expect(
      JSON.parse(
        run.one("aws:iam/rolePolicy:RolePolicy", "acme-dr-use1-eks-ebs-csi-kms").inputs.policy,
      ),
    ).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "GrantsForEbsOnly",
          Effect: "Allow",
          Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
          Resource: [keyArn],
          Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
        },
        {
          Sid: "UseSiteKey",
          Effect: "Allow",
          Action: [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
          ],
          Resource: [keyArn],
        },
      ],
    });
  });

  it("needs no key-policy change: the site key lets IAM policies grant every action the driver uses", () => {
    const policy = siteKeyPolicy({
      region: "us-east-1",
      accountId: "111122223333",
      partition: "aws",
      adminPrincipalArns: [],
      breakGlassPrincipalArn: "arn:aws:iam::111122223333:role/break-glass",
      peerReplicationRoleArn: "arn:aws:iam::111122223333:role/x",
    }) as { Statement: Array<{ Sid: string; Principal: unknown; Action: string[] }> };
    const delegated = policy.Statement.find((s) => s.Sid === "UseThroughIamPolicies");
    // A key policy statement naming the account enables IAM policies to grant those actions.
    // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
    expect(delegated?.Principal).toEqual({ AWS: "arn:aws:iam::111122223333:root" });
    expect(delegated?.Action).toEqual(
      expect.arrayContaining([
        "kms:CreateGrant",
        "kms:ListGrants",
        "kms:RevokeGrant",
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
      ]),
    );
  });

  it("provisions the drill's claims from a class whose provisioner is the add-on's driver", async () => {
    const run = await runStack("primary");
    const sc = run.one("kubernetes:storage.k8s.io/v1:StorageClass");
    expect(sc.inputs.metadata.name).toBe(SCRATCH_STORAGE_CLASS);
    // The EBS CSI driver's name: https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/parameters.md
    expect(sc.inputs.provisioner).toBe("ebs.csi.aws.com");
    expect(sc.inputs.provisioner).toBe(EBS_CSI.driverName);
    const drill = run
      .ofType("kubernetes:batch/v1:CronJob")
      .find((c) => c.inputs.metadata.name === "restore-drill");
    const volumes = drill?.inputs.spec.jobTemplate.spec.template.spec.volumes;
    const claims = volumes.filter((v: any) => v.ephemeral);
    expect(claims.map((v: any) => v.name).sort()).toEqual(["pgdata", "tmp"]);
    for (const v of claims) {
      expect(v.ephemeral.volumeClaimTemplate.spec.storageClassName).toBe("drctl-scratch");
    }
  });

  it("exists in every role of both stacks (docs/architecture.md §2b)", async () => {
    for (const [stack, role] of STACK_ROLES) {
      const run = await runStack(stack, { role });
      const stem = stack === "primary" ? "acme-dr-use1" : "acme-dr-usw2";
      expect(
        run.one("aws:eks/addon:Addon", `${stem}-eks-ebs-csi`).inputs.addonName,
        `${stack} ${role}`,
      ).toBe("aws-ebs-csi-driver");
      expect(run.one("aws:iam/role:Role", `${stem}-eks-ebs-csi`).inputs.assumeRolePolicy).toContain(
        "system:serviceaccount:kube-system:ebs-csi-controller-sa",
      );
    }
  });
});
