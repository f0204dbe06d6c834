import { describe, expect, it } from "vitest";
import { runStack } from "./harness";

describe("both stack files", () => {
  it("primary registers a VPC over 3 AZs, an encrypted EKS cluster and an OIDC provider", async () => {
    const run = await runStack("primary");
    const vpc = run.one("aws:ec2/vpc:Vpc");
    expect(vpc.inputs.cidrBlock).toBe("10.10.0.0/16");
    expect(vpc.inputs.region).toBe("us-east-1");
    const azs = new Set(
      run.ofType("aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZoneId),
    );
    expect([...azs].sort()).toEqual(["use1-az1", "use1-az2", "use1-az4"]);
    expect(run.outputs.site).toBe("use1");
    expect(run.outputs.siteRole).toBe("primary");
    expect(run.outputs.clusterName).toBe("acme-dr-use1");
  });

  it("dr registers the same shape in us-west-2 with its own ranges", async () => {
    const run = await runStack("dr");
    expect(run.one("aws:ec2/vpc:Vpc").inputs.cidrBlock).toBe("10.20.0.0/16");
    expect(run.one("aws:eks/cluster:Cluster").inputs.region).toBe("us-west-2");
    expect(run.outputs.siteRole).toBe("standby");
    expect(run.outputs.peerRegion).toBe("us-east-1");
  });
});
