import { describe, expect, it } from "vitest";
import {
  EKS_UNSUPPORTED_ZONE_IDS,
  s3EndpointPolicy,
  selectZoneIds,
} from "../../components/platform/network";
import { planSubnets } from "../../components/platform/subnets";
import { cidrsOverlap, cronError, parseCidr } from "../../components/validation";
import { runStack } from "../harness";

describe("subnet plan", () => {
  it("splits a /16 into private /19s and public /22s per AZ", () => {
    expect(planSubnets("10.10.0.0/16", 3)).toEqual({
      private: ["10.10.0.0/19", "10.10.32.0/19", "10.10.64.0/19"],
      public: ["10.10.192.0/22", "10.10.196.0/22", "10.10.200.0/22"],
    });
    expect(planSubnets("172.16.0.0/20", 2)).toEqual({
      private: ["172.16.0.0/23", "172.16.2.0/23"],
      public: ["172.16.12.0/26", "172.16.12.64/26"],
    });
  });

  it("names the argument it rejects", () => {
    expect(() => planSubnets("10.10.0.0/24", 2)).toThrow(
      "[vpcCidr] prefix must be between /16 and /20, got /24",
    );
    expect(() => planSubnets("10.10.0.0/16", 4)).toThrow("[azCount] must be 2 or 3, got 4");
  });

  it("parses CIDRs strictly and detects overlap", () => {
    expect(parseCidr("10.0.0.1/16")).toBeUndefined();
    expect(cidrsOverlap("10.0.0.0/16", "10.0.255.0/24")).toBe(true);
    expect(cidrsOverlap("10.0.0.0/16", "10.1.0.0/16")).toBe(false);
    expect(cronError("*/15 0-6 1,15 * 1-5")).toBeUndefined();
    expect(cronError("0 2 * *")).toBe(
      "has 4 fields; expected 5 (minute hour day-of-month month day-of-week)",
    );
  });
});

describe("network component", () => {
  it("registers public and private subnets, NAT per AZ, an S3 endpoint and encrypted flow logs", async () => {
    const run = await runStack("primary");
    const subnets = run.ofType("aws:ec2/subnet:Subnet");
    expect(
      subnets.map((s) => [s.name, s.inputs.cidrBlock, s.inputs.availabilityZoneId]).sort(),
    ).toEqual([
      // By zone ID, never use1-az3 (the mocked account maps us-east-1b to it).
      ["acme-dr-use1-net-private-0", "10.10.0.0/19", "use1-az1"],
      ["acme-dr-use1-net-private-1", "10.10.32.0/19", "use1-az2"],
      ["acme-dr-use1-net-private-2", "10.10.64.0/19", "use1-az4"],
      ["acme-dr-use1-net-public-0", "10.10.192.0/22", "use1-az1"],
      ["acme-dr-use1-net-public-1", "10.10.196.0/22", "use1-az2"],
      ["acme-dr-use1-net-public-2", "10.10.200.0/22", "use1-az4"],
    ]);
    expect(subnets.every((s) => s.inputs.availabilityZone === undefined)).toBe(true);
    expect(subnets.every((s) => s.inputs.region === "us-east-1")).toBe(true);
    expect(run.ofType("aws:ec2/natGateway:NatGateway")).toHaveLength(3);

    const endpoint = run.one("aws:ec2/vpcEndpoint:VpcEndpoint");
    expect(endpoint.inputs.serviceName).toBe("com.amazonaws.us-east-1.s3");
    expect(endpoint.inputs.vpcEndpointType).toBe("Gateway");
    expect(endpoint.inputs.routeTableIds).toHaveLength(3);
    expect(JSON.parse(endpoint.inputs.policy)).toEqual(
      JSON.parse(s3EndpointPolicy("us-east-1", "111122223333")),
    );

    const key = run.one("aws:kms/key:Key");
    const flowLogs = run.one("aws:cloudwatch/logGroup:LogGroup", "acme-dr-use1-net-flow-logs");
    expect(flowLogs.inputs.kmsKeyId).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\//);
    expect(flowLogs.inputs.kmsKeyId).toBe(`arn:aws:kms:us-east-1:111122223333:key/${key.id}`);
    expect(flowLogs.inputs.retentionInDays).toBe(90);
    const flowLog = run.one("aws:ec2/flowLog:FlowLog");
    expect(flowLog.inputs.trafficType).toBe("ALL");
    expect(flowLog.inputs.logDestinationType).toBe("cloud-watch-logs");
  });

  it("uses one NAT gateway for every private route table when asked to save cost", async () => {
    const run = await runStack("dr", {
      network: { natGateways: "single" },
      sites: { usw2: { azCount: 2 } },
    });
    const nats = run.ofType("aws:ec2/natGateway:NatGateway");
    expect(nats).toHaveLength(1);
    const privateRoutes = run
      .ofType("aws:ec2/routeTable:RouteTable")
      .filter((t) => t.name.includes("private"))
      .map((t) => t.inputs.routes[0].natGatewayId);
    expect(privateRoutes).toEqual([nats[0].id, nats[0].id]);
  });
});

describe("availability zones (issue 13.4)", () => {
  it("picks zone IDs EKS supports, in zone-ID order, whatever the names map to", () => {
    // EKS user guide, subnet requirements: no control plane in use1-az3, usw1-az2, cac1-az3.
    expect(EKS_UNSUPPORTED_ZONE_IDS).toEqual(["use1-az3", "usw1-az2", "cac1-az3"]);
    expect(selectZoneIds("us-east-1", ["use1-az6", "use1-az3", "use1-az1", "use1-az2"], 3)).toEqual(
      ["use1-az1", "use1-az2", "use1-az6"],
    );
    expect(() => selectZoneIds("us-west-1", ["usw1-az1", "usw1-az2", "usw1-az3"], 3)).toThrow(
      "us-west-1 offers 2 AZs that EKS supports (usw1-az1, usw1-az3 of usw1-az1, usw1-az2, usw1-az3), " +
        "fewer than sites.<site>.azCount 3; lower azCount or pick another region",
    );
  });

  it("asks for real AZs only, no Local Zones", async () => {
    const run = await runStack("dr");
    expect(
      [
        ...new Set(run.ofType("aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZoneId)),
      ].sort(),
    ).toEqual(["usw2-az1", "usw2-az2", "usw2-az3"]);
  });
});

describe("S3 gateway endpoint policy (issue 16.6)", () => {
  it("admits this account's buckets and ECR's layer bucket only", () => {
    expect(JSON.parse(s3EndpointPolicy("us-west-2", "111122223333")).Statement).toEqual([
      {
        Sid: "ThisAccountsBuckets",
        Effect: "Allow",
        Principal: "*",
        Action: "s3:*",
        Resource: "*",
        Condition: { StringEquals: { "aws:ResourceAccount": "111122223333" } },
      },
      {
        Sid: "EcrImageLayers",
        Effect: "Allow",
        Principal: "*",
        Action: "s3:GetObject",
        Resource: "arn:aws:s3:::prod-us-west-2-starport-layer-bucket/*",
      },
    ]);
  });
});

describe("flow logs role", () => {
  it("has the VPC user guide's minimum permissions and a trust scoped to this account", async () => {
    const run = await runStack("primary");
    const role = run.one("aws:iam/role:Role", "acme-dr-use1-net-flow-logs");
    expect(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Condition).toEqual({
      StringEquals: { "aws:SourceAccount": "111122223333" },
      ArnLike: { "aws:SourceArn": "arn:aws:ec2:us-east-1:111122223333:vpc-flow-log/*" },
    });
    const policy = JSON.parse(
      run.one("aws:iam/rolePolicy:RolePolicy", "acme-dr-use1-net-flow-logs").inputs.policy,
    );
    expect(policy.Statement.flatMap((s: { Action: string[] }) => s.Action).sort()).toEqual([
      "logs:CreateLogStream",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]);
  });
});
