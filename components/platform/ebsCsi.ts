import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceAccountTrust } from "./irsa";

/**
 * The Amazon EBS CSI driver as an EKS add-on: what provisions the drill's scratch volumes (generic
 * ephemeral volumes of the `drctl-scratch` StorageClass, encrypted with the site key). Without it
 * their claims never bind and the drill pod never starts.
 *
 * - The add-on is `aws-ebs-csi-driver`; its controller runs as `kube-system/ebs-csi-controller-sa`
 *   and needs the AWS managed policy AmazonEBSCSIDriverPolicy ("Amazon EBS CSI driver",
 *   https://docs.aws.amazon.com/eks/latest/userguide/add-ons-aws-ebs-csi-driver.html).
 * - Its CSI driver name, the StorageClass provisioner, is `ebs.csi.aws.com`
 *   (https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/parameters.md).
 * - A customer-managed key needs the extra policy of "Create an Amazon EBS CSI driver IAM role"
 *   (https://docs.aws.amazon.com/eks/latest/userguide/csi-iam-role.html), "if you use a custom KMS
 *   key for encryption on your Amazon EBS volumes": CreateGrant/ListGrants/RevokeGrant only for
 *   grants to an AWS resource (`kms:GrantIsForAWSResource`, EBS attaching the volume), and
 *   Encrypt, Decrypt, ReEncrypt*, GenerateDataKey* and DescribeKey.
 *
 * IRSA rather than EKS Pod Identity: the cluster's OIDC provider already exists and every other
 * workload role here (the backup jobs, the restore-test check) trusts it, so one trust model is
 * reviewed and tested; a Pod Identity association would be a second (an `eks:` association plus
 * a `pods.eks.amazonaws.com` trust) for the same result. The add-on annotates its own
 * ServiceAccount with `serviceAccountRoleArn` (pulumi-aws `eks/addon.d.ts`).
 */
export const EBS_CSI = {
  addonName: "aws-ebs-csi-driver",
  driverName: "ebs.csi.aws.com",
  namespace: "kube-system",
  serviceAccount: "ebs-csi-controller-sa",
} as const;

/** AmazonEBSCSIDriverPolicy (a service-role path) in the partition's ARN form. */
export function ebsCsiManagedPolicyArn(partition: string): string {
  return `arn:${partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy`;
}

/** The customer-managed-key policy of the EKS user guide, for exactly the site key. */
export function ebsCsiKmsPolicy(kmsKeyArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "GrantsForEbsOnly",
        Effect: "Allow",
        Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        Resource: [kmsKeyArn],
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
        Resource: [kmsKeyArn],
      },
    ],
  });
}

export interface EbsCsiDriverArgs {
  readonly region: string;
  /** The cluster the add-on is installed into (`aws.eks.Cluster.name`). */
  readonly clusterName: pulumi.Input<string>;
  /** ARN of the cluster's IAM OIDC provider. */
  readonly oidcProviderArn: pulumi.Input<string>;
  /** The cluster's OIDC issuer without `https://`. */
  readonly oidcIssuer: pulumi.Input<string>;
  /**
   * The node group the controller runs on: EKS reports the add-on ACTIVE only once its pods run,
   * so creating it before any node exists waits out the add-on's timeout.
   */
  readonly nodeGroup: pulumi.Resource;
  /** The site key the scratch volumes are encrypted with. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** AWS partition, for the managed policy ARN. @default "aws" */
  readonly partition?: string;
  /** Tags for every child. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * The EBS CSI add-on and its IRSA role. Exists in every role of the site (docs/architecture.md §2b): the drill
 * runs on the standby too, and a promotion must not need IAM.
 */
export class EbsCsiDriver extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;
  public readonly addonName: pulumi.Output<string>;

  constructor(name: string, args: EbsCsiDriverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:compute:EbsCsiDriver", name, {}, opts);
    const partition = args.partition ?? "aws";
    const tags = args.tags ?? {};
    const child = { parent: this };

    const role = new aws.iam.Role(
      name,
      {
        description: `EBS CSI controller (${EBS_CSI.namespace}/${EBS_CSI.serviceAccount})`,
        assumeRolePolicy: serviceAccountTrust(
          args.oidcProviderArn,
          args.oidcIssuer,
          EBS_CSI.namespace,
          EBS_CSI.serviceAccount,
        ),
        tags,
      },
      child,
    );
    const managed = new aws.iam.RolePolicyAttachment(
      name,
      { role: role.name, policyArn: ebsCsiManagedPolicyArn(partition) },
      child,
    );
    // The site key's policy delegates use to IAM (its UseThroughIamPolicies statement names the
    // account for every KEY_USE_ACTIONS action, CreateGrant included), so this identity policy is
    // all the key needs: "allows access to the AWS account and enables IAM policies",
    // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
    const kms = new aws.iam.RolePolicy(
      `${name}-kms`,
      { role: role.name, policy: pulumi.output(args.kmsKeyArn).apply(ebsCsiKmsPolicy) },
      child,
    );

    const addon = new aws.eks.Addon(
      name,
      {
        region: args.region,
        clusterName: args.clusterName,
        addonName: EBS_CSI.addonName,
        serviceAccountRoleArn: role.arn,
        resolveConflictsOnCreate: "OVERWRITE",
        resolveConflictsOnUpdate: "PRESERVE",
        tags,
      },
      // The controller must be able to call EC2 from its first start, on a node.
      { parent: this, dependsOn: [args.nodeGroup, managed, kms] },
    );

    this.roleArn = role.arn;
    this.addonName = addon.addonName;
    this.registerOutputs({ roleArn: this.roleArn, addonName: this.addonName });
  }
}
