import { describe, expect, it } from "vitest";
import { clusterArgsProblems, clusterUpgradeProblems } from "../../components/platform/cluster";
import { runStack, type StackRun } from "../harness";

/** The access entries of the cluster's admins (`<stem>-eks-admin-<i>`). */
function adminEntries(run: StackRun) {
  return run
    .ofType("aws:eks/accessEntry:AccessEntry")
    .filter((e) => /-eks-admin-\d+$/.test(e.name));
}

describe("EKS cluster", () => {
  it("encrypts secrets with the rotating site key and logs the control plane", async () => {
    const run = await runStack("primary");
    const key = run.one("aws:kms/key:Key");
    expect(key.inputs.enableKeyRotation).toBe(true);
    expect(key.inputs.deletionWindowInDays).toBe(30);
    expect(key.retainOnDelete).toBe(true);
    expect(run.one("aws:kms/alias:Alias").inputs.name).toBe("alias/acme-dr-use1");

    const cluster = run.one("aws:eks/cluster:Cluster");
    expect(cluster.inputs.name).toBe("acme-dr-use1");
    expect(cluster.inputs.version).toBe("1.33");
    expect(cluster.inputs.encryptionConfig).toEqual({
      provider: { keyArn: `arn:aws:kms:us-east-1:111122223333:key/${key.id}` },
      resources: ["secrets"],
    });
    expect(cluster.inputs.enabledClusterLogTypes).toEqual(["api", "audit", "authenticator"]);
    // No implicit entry for the creator: listing the deployer in adminPrincipalArns would
    // otherwise fail with "access entry resource is already in use" (pulumi-eks #2373).
    expect(cluster.inputs.accessConfig).toEqual({
      authenticationMode: "API",
      bootstrapClusterCreatorAdminPermissions: false,
    });
    expect(cluster.inputs.deletionProtection).toBe(true);
    expect(cluster.inputs.vpcConfig).toMatchObject({
      endpointPrivateAccess: true,
      endpointPublicAccess: true,
      publicAccessCidrs: ["203.0.113.0/24"],
    });
    const logs = run.one("aws:cloudwatch/logGroup:LogGroup", "acme-dr-use1-eks-control-plane");
    expect(logs.inputs.name).toBe("/aws/eks/acme-dr-use1/cluster");
  });

  it("keeps the endpoint private when no public CIDR is allowed", async () => {
    const run = await runStack("dr", { cluster: { publicAccessCidrs: [] } });
    const vpc = run.one("aws:eks/cluster:Cluster").inputs.vpcConfig;
    expect(vpc.endpointPublicAccess).toBe(false);
    expect(vpc.publicAccessCidrs).toBeUndefined();
  });

  it("wires the cluster's OIDC issuer into the IAM OIDC provider", async () => {
    const run = await runStack("dr");
    const oidc = run.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider");
    expect(oidc.inputs.url).toMatch(
      /^https:\/\/oidc\.eks\.us-west-2\.amazonaws\.com\/id\/[0-9A-F]{32}$/,
    );
    expect(oidc.inputs.clientIdLists).toEqual(["sts.amazonaws.com"]);
    expect(run.outputs.oidcProviderArn).toBe(
      `arn:aws:iam::111122223333:oidc-provider/${oidc.inputs.url.replace("https://", "")}`,
    );
  });

  it("runs nodes in private subnets, core add-ons, and admin access entries", async () => {
    const run = await runStack("primary");
    const nodes = run.one("aws:eks/nodeGroup:NodeGroup");
    const privateIds = run
      .ofType("aws:ec2/subnet:Subnet")
      .filter((s) => s.name.includes("private"))
      .map((s) => s.id);
    expect(nodes.inputs.subnetIds).toEqual(privateIds);
    expect(nodes.inputs.scalingConfig).toEqual({ minSize: 2, desiredSize: 2, maxSize: 4 });
    // The root volume is the launch template's (diskSize would conflict with it): sized by
    // cluster.nodeDiskSizeGb, encrypted with the site key, not the account's default EBS key.
    expect(nodes.inputs.diskSize).toBeUndefined();
    const lt = run.one("aws:ec2/launchTemplate:LaunchTemplate");
    expect(nodes.inputs.launchTemplate).toEqual({ id: lt.id, version: "1" });
    expect(lt.inputs.blockDeviceMappings).toEqual([
      {
        deviceName: "/dev/xvda",
        ebs: {
          volumeSize: 80,
          volumeType: "gp3",
          encrypted: "true",
          kmsKeyId: run.outputs.kmsKeyArn,
          deleteOnTermination: "true",
        },
      },
    ]);
    expect(lt.inputs.imageId).toBeUndefined();
    expect(lt.inputs.metadataOptions).toEqual({
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 2,
    });
    // The nodes follow the control plane's version in the same update.
    expect(nodes.inputs.version).toBe("1.33");
    expect(nodes.inputs.releaseVersion).toBeUndefined();
    expect(
      run
        .ofType("aws:eks/addon:Addon")
        .map((a) => a.inputs.addonName)
        .sort(),
    ).toEqual(["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]);
    const coredns = run.named("acme-dr-use1-eks-coredns");
    expect(coredns.dependsOn).toContain(nodes.urn);
    // The admins' entries (the Region switch plan has an entry of its own, scoped to the
    // applications: test/regionSwitch/plan.test.ts).
    expect(adminEntries(run).map((e) => e.inputs.principalArn)).toEqual([
      "arn:aws:iam::111122223333:role/platform-admin",
    ]);
    expect(
      run.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "acme-dr-use1-eks-admin-0")
        .inputs.policyArn,
    ).toBe("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy");
  });

  it("exports the kubeconfig as a secret that execs aws eks get-token", async () => {
    const run = await runStack("primary");
    const kubeconfig = JSON.parse(run.outputs.kubeconfig);
    expect(kubeconfig.clusters[0].cluster.server).toMatch(
      /^https:\/\/[0-9A-F]{32}\.gr7\.us-east-1\.eks\.amazonaws\.com$/,
    );
    expect(kubeconfig.users[0].user.exec.args).toEqual([
      "eks",
      "get-token",
      "--cluster-name",
      "acme-dr-use1",
      "--region",
      "us-east-1",
    ]);
    const provider = run.one("pulumi:providers:kubernetes");
    expect(provider.inputs.kubeconfig).toBe(run.outputs.kubeconfig);
    // The provider acts as the deployer: it waits for the deployer's access policy, not only
    // for the nodes (an access entry without its policy is refused by the API server).
    expect(provider.dependsOn).toEqual(
      expect.arrayContaining([
        run.one("aws:eks/nodeGroup:NodeGroup").urn,
        run.one(
          "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
          "acme-dr-use1-eks-admin-0",
        ).urn,
      ]),
    );
  });

  it("registers every resource once and gives every regional resource the site's region", async () => {
    const run = await runStack("dr");
    const urns = run.resources.map((r) => r.urn);
    expect(new Set(urns).size).toBe(urns.length);
    const regional = run.resources.filter(
      (r) =>
        r.type.startsWith("aws:") &&
        !r.type.startsWith("aws:iam/") &&
        !r.type.startsWith("aws:route53/"),
    );
    const wrong = regional.filter(
      (r) => r.inputs.region !== "us-west-2" && r.type !== "pulumi:providers:aws",
    );
    // The one role-independent alarm a site owns outside its region (docs/dns-failover.md): the
    // alarm on its Route 53 endpoint check in us-east-1, the only region Route 53 publishes to.
    // No transition touches it (failoverPath.test.ts).
    expect(wrong.map((r) => `${r.type} ${r.name} ${r.inputs.region}`)).toEqual([
      "aws:cloudwatch/metricAlarm:MetricAlarm acme-dr-usw2-alarms-endpoint-health us-east-1",
    ]);
  });
});

describe("cluster admins (issue 13.5)", () => {
  it("requires the deployer among the admins, as IAM role or user ARNs listed once", async () => {
    await expect(runStack("primary", { cluster: { adminPrincipalArns: [] } })).rejects.toThrow(
      "dr-stack:cluster.adminPrincipalArns: must list at least the IAM role that runs `pulumi up`",
    );
    await expect(
      runStack("primary", {
        cluster: {
          adminPrincipalArns: ["arn:aws:sts::111122223333:assumed-role/deployer/session"],
        },
      }),
    ).rejects.toThrow(
      "dr-stack:cluster.adminPrincipalArns.0: must be an IAM role or user ARN such as " +
        "arn:aws:iam::111122223333:role/platform-admin (not an STS session ARN)",
    );
    expect(
      clusterArgsProblems({
        region: "us-east-1",
        clusterName: "c",
        version: "1.33",
        privateSubnetIds: [],
        kmsKeyArn: "k",
        adminPrincipalArns: [
          "arn:aws:iam::111122223333:role/a",
          "arn:aws:iam::111122223333:role/a",
        ],
      }),
    ).toEqual(['[adminPrincipalArns] "arn:aws:iam::111122223333:role/a" is listed twice']);
  });

  it("gives every admin, the deployer included, one explicit entry and the cluster admin policy", async () => {
    const deployer = "arn:aws:iam::111122223333:role/deployer";
    const run = await runStack("primary", {
      cluster: { adminPrincipalArns: [deployer, "arn:aws:iam::111122223333:role/platform-admin"] },
    });
    expect(adminEntries(run).map((e) => e.inputs.principalArn)).toEqual([
      deployer,
      "arn:aws:iam::111122223333:role/platform-admin",
    ]);
  });
});

describe("EKS version moves", () => {
  it("allows one minor version at a time, and refuses a skip or a downgrade saying what to do", () => {
    expect(clusterUpgradeProblems("1.34", "1.33")).toEqual([]);
    expect(clusterUpgradeProblems("1.33")).toEqual([]);
    expect(clusterUpgradeProblems("1.35", "1.33")).toEqual([
      "dr-stack:cluster.version: 1.33 to 1.35 skips 1 minor version(s); EKS upgrades one minor " +
        "version at a time. Set cluster.version to 1.34 (cluster.previousVersion 1.33), `pulumi up` " +
        "this stack and then the peer's, and repeat for each version up to 1.35 " +
        "(docs/runbooks/upgrades.md).",
    ]);
    expect(clusterUpgradeProblems("1.32", "1.33")).toEqual([
      "dr-stack:cluster.version: 1.32 is older than the deployed 1.33; EKS cannot downgrade a " +
        "cluster. Set it back to 1.33.",
    ]);
  });

  it("refuses a skipped minor version before registering anything", async () => {
    await expect(
      runStack("primary", { cluster: { version: "1.35", previousVersion: "1.33" } }),
    ).rejects.toThrow("dr-stack:cluster.version: 1.33 to 1.35 skips 1 minor version(s)");
  });
});
