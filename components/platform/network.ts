import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { planSubnets } from "./subnets";

/**
 * Zone IDs whose AZ does not host EKS control planes: EKS refuses cluster subnets there with
 * UnsupportedAvailabilityZoneException ("at least one of your specified cluster subnets is in an
 * Availability Zone that does not support Amazon EKS"; its `validZones` lists the usable ones,
 * https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html#API_CreateCluster_Errors).
 * The list itself is eksctl's `zoneIDsToAvoid` (us-east-1 use1-az3, us-west-1 usw1-az2,
 * ca-central-1 cac1-az3; its cn-north-1 entry is outside the partitions this stack runs in),
 * https://github.com/eksctl-io/eksctl/blob/f4d4076ee22c9026a11a70434b802a7e0f61bd46/pkg/az/az.go.
 * The EKS user guide's "VPC and subnet requirements" page
 * (https://docs.aws.amazon.com/eks/latest/userguide/network_reqs.html) was searched for a list
 * of zone IDs and none was found in what could be read here (no source beyond eksctl's), so
 * a new unsupported zone shows as that exception on the first `up`, naming the valid zones.
 * By zone ID, because zone *names* map to different physical AZs in each account
 * (https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html).
 */
export const EKS_UNSUPPORTED_ZONE_IDS: readonly string[] = ["use1-az3", "usw1-az2", "cac1-az3"];

/**
 * The zone IDs a site uses: the available ones EKS supports, in zone-ID order (the same physical
 * AZs whatever account runs it), the first `azCount`. Throws naming what the region offers when
 * too few are left.
 */
export function selectZoneIds(region: string, zoneIds: string[], azCount: number): string[] {
  const usable = [...zoneIds].filter((z) => !EKS_UNSUPPORTED_ZONE_IDS.includes(z)).sort();
  if (usable.length < azCount) {
    throw new Error(
      `${region} offers ${usable.length} AZs that EKS supports (${usable.join(", ") || "none"} of ` +
        `${zoneIds.join(", ")}), fewer than sites.<site>.azCount ${azCount}; lower azCount or pick another region`,
    );
  }
  return usable.slice(0, azCount);
}

export interface NetworkArgs {
  readonly region: string;
  /** This account: the S3 endpoint admits only its buckets; the flow-log trust names it. */
  readonly accountId: string;
  /** AWS partition, for ARNs. @default "aws" */
  readonly partition?: string;
  readonly vpcCidr: string;
  /** Availability zones to span: 2 or 3. */
  readonly azCount: number;
  /** KMS key that encrypts the flow-log group. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** `perAz` keeps egress up when one AZ fails; `single` costs one gateway. @default "perAz" */
  readonly natGateways?: "perAz" | "single";
  /** Days to keep VPC flow logs. @default 90 */
  readonly flowLogRetentionDays?: number;
  /** Tags for every child. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * The S3 gateway endpoint's policy: any action on buckets of `accountId` (`aws:ResourceAccount`,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount),
 * and reads of the AWS-owned bucket ECR keeps image layers in
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-minimum-s3-perms).
 */
export function s3EndpointPolicy(region: string, accountId: string, partition = "aws"): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ThisAccountsBuckets",
        Effect: "Allow",
        Principal: "*",
        Action: "s3:*",
        Resource: "*",
        Condition: { StringEquals: { "aws:ResourceAccount": accountId } },
      },
      {
        Sid: "EcrImageLayers",
        Effect: "Allow",
        Principal: "*",
        Action: "s3:GetObject",
        Resource: `arn:${partition}:s3:::prod-${region}-starport-layer-bucket/*`,
      },
    ],
  });
}

/** One site's VPC: public and private subnets per AZ, NAT, an S3 gateway endpoint, flow logs. */
export class Network extends pulumi.ComponentResource {
  public readonly vpcId: pulumi.Output<string>;
  public readonly privateSubnetIds: pulumi.Output<string[]>;
  public readonly publicSubnetIds: pulumi.Output<string[]>;
  public readonly privateRouteTableIds: pulumi.Output<string[]>;
  public readonly availabilityZones: pulumi.Output<string[]>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:network:Network", name, {}, opts);
    const natGateways = args.natGateways ?? "perAz";
    const flowLogRetentionDays = args.flowLogRetentionDays ?? 90;
    const tags = args.tags ?? {};
    const plan = planSubnets(args.vpcCidr, args.azCount);
    const region = args.region;
    const partition = args.partition ?? "aws";
    const child = { parent: this };

    // The one check that cannot run before resources exist: which AZs the region offers this
    // account is only known from the invoke. Only real AZs (no Local or Wavelength Zones).
    const azs = aws
      .getAvailabilityZonesOutput(
        {
          state: "available",
          region,
          filters: [{ name: "zone-type", values: ["availability-zone"] }],
        },
        child,
      )
      .zoneIds.apply((ids) => selectZoneIds(region, ids, args.azCount));

    const vpc = new aws.ec2.Vpc(
      name,
      {
        region,
        cidrBlock: args.vpcCidr,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags: { ...tags, Name: name },
      },
      child,
    );
    const igw = new aws.ec2.InternetGateway(`${name}-igw`, { region, vpcId: vpc.id, tags }, child);

    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public`,
      { region, vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }], tags },
      child,
    );

    const publicSubnets = plan.public.map((cidrBlock, i) => {
      const subnet = new aws.ec2.Subnet(
        `${name}-public-${i}`,
        {
          region,
          vpcId: vpc.id,
          cidrBlock,
          availabilityZoneId: azs[i],
          mapPublicIpOnLaunch: false,
          tags: { ...tags, Name: `${name}-public-${i}`, "kubernetes.io/role/elb": "1" },
        },
        child,
      );
      new aws.ec2.RouteTableAssociation(
        `${name}-public-${i}`,
        { region, subnetId: subnet.id, routeTableId: publicRoutes.id },
        child,
      );
      return subnet;
    });

    const natCount = natGateways === "single" ? 1 : args.azCount;
    const nats = [...Array(natCount).keys()].map((i) => {
      const eip = new aws.ec2.Eip(`${name}-nat-${i}`, { region, domain: "vpc", tags }, child);
      return new aws.ec2.NatGateway(
        `${name}-nat-${i}`,
        { region, allocationId: eip.id, subnetId: publicSubnets[i].id, tags },
        { parent: this, dependsOn: [igw] },
      );
    });

    const privateRouteTables: aws.ec2.RouteTable[] = [];
    const privateSubnets = plan.private.map((cidrBlock, i) => {
      const subnet = new aws.ec2.Subnet(
        `${name}-private-${i}`,
        {
          region,
          vpcId: vpc.id,
          cidrBlock,
          availabilityZoneId: azs[i],
          tags: { ...tags, Name: `${name}-private-${i}`, "kubernetes.io/role/internal-elb": "1" },
        },
        child,
      );
      const routes = new aws.ec2.RouteTable(
        `${name}-private-${i}`,
        {
          region,
          vpcId: vpc.id,
          routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nats[Math.min(i, natCount - 1)].id }],
          tags,
        },
        child,
      );
      new aws.ec2.RouteTableAssociation(
        `${name}-private-${i}`,
        { region, subnetId: subnet.id, routeTableId: routes.id },
        child,
      );
      privateRouteTables.push(routes);
      return subnet;
    });

    // Backups stream to S3 through the gateway endpoint: no NAT data charges, no internet path.
    // Its policy admits this account's buckets only (issue 16.6), so a stolen job credential
    // cannot copy data to a bucket elsewhere through it, plus the AWS-owned bucket that holds
    // ECR image layers, which every node pull fetches through this endpoint.
    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      {
        region,
        vpcId: vpc.id,
        serviceName: `com.amazonaws.${region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds: privateRouteTables.map((t) => t.id),
        policy: s3EndpointPolicy(region, args.accountId, partition),
        tags,
      },
      child,
    );

    const flowLogGroup = new aws.cloudwatch.LogGroup(
      `${name}-flow-logs`,
      { region, retentionInDays: flowLogRetentionDays, kmsKeyId: args.kmsKeyArn, tags },
      child,
    );
    // Trust scoped to this account's flow logs (confused-deputy protection, VPC user guide:
    // https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html).
    const flowLogRole = new aws.iam.Role(
      `${name}-flow-logs`,
      {
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "vpc-flow-logs.amazonaws.com" },
              Action: "sts:AssumeRole",
              Condition: {
                StringEquals: { "aws:SourceAccount": args.accountId },
                ArnLike: {
                  "aws:SourceArn": `arn:${partition}:ec2:${region}:${args.accountId}:vpc-flow-log/*`,
                },
              },
            },
          ],
        }),
        tags,
      },
      child,
    );
    new aws.iam.RolePolicy(
      `${name}-flow-logs`,
      {
        role: flowLogRole.id,
        policy: flowLogGroup.arn.apply((arn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                Resource: [arn, `${arn}:*`],
              },
              {
                // In the VPC user guide's minimum policy; it lists groups, so it cannot be
                // scoped to one group's ARN (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html).
                Effect: "Allow",
                Action: ["logs:DescribeLogGroups"],
                Resource: `arn:${partition}:logs:${region}:${args.accountId}:log-group:*`,
              },
            ],
          }),
        ),
      },
      child,
    );
    new aws.ec2.FlowLog(
      `${name}-flow-logs`,
      {
        region,
        vpcId: vpc.id,
        trafficType: "ALL",
        logDestinationType: "cloud-watch-logs",
        logDestination: flowLogGroup.arn,
        iamRoleArn: flowLogRole.arn,
        tags,
      },
      child,
    );

    this.vpcId = vpc.id;
    this.privateSubnetIds = pulumi.all(privateSubnets.map((s) => s.id));
    this.publicSubnetIds = pulumi.all(publicSubnets.map((s) => s.id));
    this.privateRouteTableIds = pulumi.all(privateRouteTables.map((t) => t.id));
    this.availabilityZones = azs;
    this.registerOutputs({
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      publicSubnetIds: this.publicSubnetIds,
      privateRouteTableIds: this.privateRouteTableIds,
      availabilityZones: this.availabilityZones,
    });
  }
}
