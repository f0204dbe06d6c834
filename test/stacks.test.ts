import { describe, expect, it } from "vitest";
import { runProgram, runStack, stackConfig } from "./harness";
import { ROTATED_PASSWORDS } from "./support/mocks";

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

describe("provider settings each stack pins", () => {
  it.each([
    ["primary", "us-east-1"],
    ["dr", "us-west-2"],
  ] as const)(
    "%s: aws:stsRegion is the site's own region, and a stack file without it is refused",
    async (stack, region) => {
      expect(stackConfig(stack)["aws:stsRegion"]).toBe(region);
      const config = { ...stackConfig(stack) };
      delete config["aws:stsRegion"];
      await expect(runProgram(config, stack)).rejects.toThrow(
        `aws:stsRegion: null is not the site's region ${region}; pin it with ` +
          `\`pulumi config set aws:stsRegion ${region}\``,
      );
      const other = region === "us-east-1" ? "us-west-2" : "us-east-1";
      await expect(
        runProgram({ ...stackConfig(stack), "aws:stsRegion": other }, stack),
      ).rejects.toThrow(`aws:stsRegion: "${other}" is not the site's region ${region}`);
    },
    120_000,
  );
});

describe("the applications' database connection in each cluster", () => {
  it.each([
    ["primary", "use1"],
    ["dr", "usw2"],
  ] as const)(
    "%s: the Secret app-database names the site's own endpoint and the app login, verify-full",
    async (stack, site) => {
      // The Secret carries the login's *current* password, as Secrets Manager answers it after a
      // rotation, not the one this program generated into state.
      const rotated = `rotated-app-password-${site}`;
      ROTATED_PASSWORDS.set(`acme-dr-${site}/db/app`, rotated);
      const run = await runStack(stack).finally(() => ROTATED_PASSWORDS.clear());
      const ns = run.one("kubernetes:core/v1:Namespace", `acme-dr-${site}-app-ns`);
      expect(ns.inputs.metadata.name).toBe("app");
      const secret = run.one("kubernetes:core/v1:Secret", `acme-dr-${site}-app-secret`);
      const appLogin = { password: rotated };
      const host = run.outputs.dbEndpoint as string;
      // The site's own instance: the endpoint RDS gives it, which a promotion keeps.
      expect(host).toBe(run.one("aws:rds/instance:Instance").state.address);
      expect(secret.inputs.metadata).toMatchObject({ name: "app-database", namespace: "app" });
      expect(secret.inputs.stringData).toEqual({
        host,
        port: "5432",
        dbname: "app",
        username: "app",
        password: appLogin.password,
        sslmode: "verify-full",
        uri: `postgresql://app:${encodeURIComponent(appLogin.password)}@${host}:5432/app?sslmode=verify-full`,
      });
      expect(run.outputs.appDatabaseSecret).toBe("app-database");
    },
    120_000,
  );
});
