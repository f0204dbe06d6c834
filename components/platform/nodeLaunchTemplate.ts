import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** What the nodes' launch template needs. */
export interface NodeLaunchTemplateArgs {
  readonly region: string;
  /** The site key: every node's root volume is encrypted with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Root volume size, GiB (the cluster's nodeDiskSizeGb). */
  readonly diskSizeGb: number;
  readonly tags: Record<string, string>;
}

/**
 * The root device of the EKS-optimized Amazon Linux 2023 AMIs the node group runs
 * (amiType AL2023_x86_64_STANDARD).
 */
export const NODE_ROOT_DEVICE = "/dev/xvda";

/**
 * The managed node group's launch template: root volumes encrypted with the site key, not the
 * account's default EBS key. EKS merges it with the node group's own settings; the node group
 * then must not set `diskSize` (CreateNodegroup: "If you specify launchTemplate, then don't
 * specify diskSize", https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html),
 * and the AMI stays the node group's (amiType, version, releaseVersion), so no `imageId` here
 * ("Customizing managed nodes with launch templates",
 * https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html). Every change makes a
 * new template version, which the node group rolls out node by node (its updateConfig).
 */
export function nodeLaunchTemplate(
  name: string,
  args: NodeLaunchTemplateArgs,
  opts: pulumi.CustomResourceOptions,
): aws.ec2.LaunchTemplate {
  return new aws.ec2.LaunchTemplate(
    name,
    {
      region: args.region,
      description: "dr-stack EKS nodes: root volume encrypted with the site key",
      blockDeviceMappings: [
        {
          deviceName: NODE_ROOT_DEVICE,
          ebs: {
            volumeSize: args.diskSizeGb,
            volumeType: "gp3",
            encrypted: "true",
            kmsKeyId: args.kmsKeyArn,
            deleteOnTermination: "true",
          },
        },
      ],
      // IMDSv2 only. Hop limit 2, as EKS sets for the templates it makes itself, so that the
      // node's agents in containers still reach it (launch-templates.html, above).
      metadataOptions: {
        httpEndpoint: "enabled",
        httpTokens: "required",
        httpPutResponseHopLimit: 2,
      },
      tagSpecifications: [
        { resourceType: "instance", tags: args.tags },
        { resourceType: "volume", tags: args.tags },
      ],
      tags: args.tags,
    },
    opts,
  );
}
