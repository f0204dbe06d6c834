import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface RegionSwitchAccessArgs {
  readonly region: string;
  readonly clusterName: pulumi.Input<string>;
  /** naming.regionSwitchRoleArn: the plan's execution role, owned by the plan's stack. */
  readonly executionRoleArn: string;
  /** The applications' namespace: the only one the plan may scale in. */
  readonly namespace: string;
  /** @default "aws" */
  readonly partition?: string;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * The Kubernetes side of the plan's EKSResourceScaling step: an access entry in this site's
 * cluster for the plan's execution role, with AWS's Region switch scaling access policy (get and
 * update `*\/scale`, get `*\/status`, get and patch HorizontalPodAutoscalers), scoped to the
 * applications' namespace.
 * https://docs.aws.amazon.com/r53recovery/latest/dg/eks-resource-scaling-block.html
 * Declared in every role of each stack, like every IAM grant a failover needs (docs/region-switch.md).
 */
export class RegionSwitchAccess extends pulumi.ComponentResource {
  constructor(name: string, args: RegionSwitchAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:regionSwitch:RegionSwitchAccess", name, {}, opts);
    const entry = new aws.eks.AccessEntry(
      name,
      {
        region: args.region,
        clusterName: args.clusterName,
        principalArn: args.executionRoleArn,
        type: "STANDARD",
        tags: args.tags ?? {},
      },
      { parent: this },
    );
    new aws.eks.AccessPolicyAssociation(
      name,
      {
        region: args.region,
        clusterName: args.clusterName,
        principalArn: args.executionRoleArn,
        policyArn: `arn:${args.partition ?? "aws"}:eks::aws:cluster-access-policy/AmazonARCRegionSwitchScalingPolicy`,
        accessScope: { type: "namespace", namespaces: [args.namespace] },
      },
      { parent: this, dependsOn: [entry] },
    );
    this.registerOutputs({});
  }
}
