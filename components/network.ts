import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { planSubnets } from "./subnets";

export interface NetworkArgs {
  readonly region: string;
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
    const child = { parent: this };

    const azs = aws
      .getAvailabilityZonesOutput({ state: "available", region }, child)
      .names.apply((names) => {
        // The one check that cannot run before resources exist: how many AZs the region offers
        // this account (us-west-1 offers two) is only known from the invoke.
        if (names.length < args.azCount) {
          throw new Error(
            `${region} has ${names.length} available AZs, fewer than azCount ${args.azCount}`,
          );
        }
        return names.slice(0, args.azCount);
      });

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
          availabilityZone: azs[i],
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
          availabilityZone: azs[i],
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
    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      {
        region,
        vpcId: vpc.id,
        serviceName: `com.amazonaws.${region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds: privateRouteTables.map((t) => t.id),
        tags,
      },
      child,
    );

    const flowLogGroup = new aws.cloudwatch.LogGroup(
      `${name}-flow-logs`,
      { region, retentionInDays: flowLogRetentionDays, kmsKeyId: args.kmsKeyArn, tags },
      child,
    );
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
