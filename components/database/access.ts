import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/** Logical names of the three resources, as each caller has always named them (never renamed). */
export interface PostgresAccessNames {
  readonly subnetGroup: string;
  readonly securityGroup: string;
  readonly fromNodes: string;
}

export interface PostgresAccessArgs {
  readonly region: string;
  readonly vpcId: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The cluster's security group: the only source admitted on 5432. */
  readonly clientSecurityGroupId: pulumi.Input<string>;
  /**
   * Descriptions of the subnet group, the security group and its ingress rule. The first two
   * cannot change in place (RDS and EC2 replace the group), so each caller keeps its own.
   */
  readonly descriptions: {
    readonly subnetGroup: string;
    readonly securityGroup: string;
    readonly fromNodes: string;
  };
  /** The security group's Name tag. */
  readonly nameTag: string;
  readonly tags: Record<string, string>;
}

/**
 * Where an RDS PostgreSQL instance of the site may live and who may reach it: a DB subnet group
 * over the private subnets, and a security group admitting 5432 from the cluster's nodes only.
 * The group has no inline rules and no egress: RDS replication and backups travel on AWS's own
 * network, and the provider removes the default allow-all egress rule of a group it creates.
 * Serves the site's database and AWS Backup's restored test copies alike.
 */
export function postgresAccess(
  names: PostgresAccessNames,
  args: PostgresAccessArgs,
  opts: pulumi.CustomResourceOptions,
): { subnetGroup: aws.rds.SubnetGroup; securityGroup: aws.ec2.SecurityGroup } {
  const { region, tags } = args;
  const subnetGroup = new aws.rds.SubnetGroup(
    names.subnetGroup,
    { region, subnetIds: args.subnetIds, description: args.descriptions.subnetGroup, tags },
    opts,
  );
  const securityGroup = new aws.ec2.SecurityGroup(
    names.securityGroup,
    {
      region,
      vpcId: args.vpcId,
      description: args.descriptions.securityGroup,
      tags: { ...tags, Name: args.nameTag },
    },
    opts,
  );
  new aws.vpc.SecurityGroupIngressRule(
    names.fromNodes,
    {
      region,
      securityGroupId: securityGroup.id,
      referencedSecurityGroupId: args.clientSecurityGroupId,
      ipProtocol: "tcp",
      fromPort: 5432,
      toPort: 5432,
      description: args.descriptions.fromNodes,
      tags,
    },
    opts,
  );
  return { subnetGroup, securityGroup };
}
