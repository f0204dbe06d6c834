import { describe, expect, it } from "vitest";
import { planSubnets } from "../components/subnets";
import { cidrsOverlap, cronError, parseCidr } from "../components/validation";
import { runStack } from "./harness";

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
      subnets.map((s) => [s.name, s.inputs.cidrBlock, s.inputs.availabilityZone]).sort(),
    ).toEqual([
      ["acme-dr-use1-net-private-0", "10.10.0.0/19", "us-east-1a"],
      ["acme-dr-use1-net-private-1", "10.10.32.0/19", "us-east-1b"],
      ["acme-dr-use1-net-private-2", "10.10.64.0/19", "us-east-1c"],
      ["acme-dr-use1-net-public-0", "10.10.192.0/22", "us-east-1a"],
      ["acme-dr-use1-net-public-1", "10.10.196.0/22", "us-east-1b"],
      ["acme-dr-use1-net-public-2", "10.10.200.0/22", "us-east-1c"],
    ]);
    expect(subnets.every((s) => s.inputs.region === "us-east-1")).toBe(true);
    expect(run.ofType("aws:ec2/natGateway:NatGateway")).toHaveLength(3);

    const endpoint = run.one("aws:ec2/vpcEndpoint:VpcEndpoint");
    expect(endpoint.inputs.serviceName).toBe("com.amazonaws.us-east-1.s3");
    expect(endpoint.inputs.vpcEndpointType).toBe("Gateway");
    expect(endpoint.inputs.routeTableIds).toHaveLength(3);

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
