import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EbsCsiDriver } from "./ebsCsi";
import { kubeconfigFor } from "./kubeconfig";
import { nodeLaunchTemplate } from "./nodeLaunchTemplate";

/** Control-plane logs that an incident review needs: who called the API, and how they authenticated. */
export const CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator"] as const;

/** Add-ons every node needs; coredns waits for nodes to schedule onto. */
export const CORE_ADDONS = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns"] as const;

export interface ClusterArgs {
  readonly region: string;
  /** Physical cluster name, from naming.ts. */
  readonly clusterName: string;
  /** Kubernetes version, e.g. "1.33", of the control plane and the nodes. */
  readonly version: string;
  /**
   * The version the last update deployed, when this update upgrades (config
   * cluster.previousVersion): a downgrade or a skipped minor version is refused before EKS
   * refuses it. @default version
   */
  readonly previousVersion?: string;
  /** EKS-optimized AMI release of the nodes. @default the latest for `version`, chosen by EKS */
  readonly nodeReleaseVersion?: string;
  readonly privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Site KMS key: envelope encryption of Kubernetes secrets and of the control-plane log group. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** CIDRs allowed to the public API endpoint; empty keeps the endpoint private. @default [] */
  readonly publicAccessCidrs?: string[];
  /**
   * IAM principals given cluster admin through access entries: the principal that runs
   * `pulumi up` must be one of them (the same update creates the backup jobs in the cluster).
   * EKS creates no entry of its own for the creator (bootstrapClusterCreatorAdminPermissions is
   * off), so listing the deployer cannot collide with one (pulumi-eks #2373: "access entry
   * resource is already in use"). At least one.
   */
  readonly adminPrincipalArns: string[];
  /** AWS partition, for managed policy ARNs. @default "aws" */
  readonly partition?: string;
  /** @default ["m6i.large"] */
  readonly nodeInstanceTypes?: string[];
  /** @default 2 */
  readonly nodeMinSize?: number;
  /** @default 2 */
  readonly nodeDesiredSize?: number;
  /** @default 4 */
  readonly nodeMaxSize?: number;
  /**
   * Root volume of each node, GiB: the AMI, images, logs and the jobs' emptyDirs. The drill's
   * download and PGDATA are EBS volumes of their own (the EBS CSI add-on), not on it. EKS's own
   * default is 20 GiB. @default 80
   */
  readonly nodeDiskSizeGb?: number;
  /** Days to keep control-plane logs. @default 90 */
  readonly logRetentionDays?: number;
  /** Tags for every child. @default {} */
  readonly tags?: Record<string, string>;
}

/** AWS managed policies, in the partition's ARN form. */
export function eksPolicyArns(partition: string) {
  return {
    cluster: `arn:${partition}:iam::aws:policy/AmazonEKSClusterPolicy`,
    nodes: [
      `arn:${partition}:iam::aws:policy/AmazonEKSWorkerNodePolicy`,
      `arn:${partition}:iam::aws:policy/AmazonEKS_CNI_Policy`,
      `arn:${partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly`,
    ],
    clusterAdmin: `arn:${partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
  };
}

/** Problems with the args, each naming the argument. */
export function clusterArgsProblems(args: ClusterArgs): string[] {
  const problems: string[] = [];
  if (args.adminPrincipalArns.length === 0) {
    problems.push(
      "[adminPrincipalArns] must list at least the IAM role that runs `pulumi up`: the cluster " +
        "grants no one admin otherwise, and the backup jobs could not be created in it",
    );
  }
  const seen = new Set<string>();
  for (const arn of args.adminPrincipalArns) {
    // Access entries take an IAM role or user ARN, never an STS assumed-role session ARN.
    // https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessEntry.html
    if (!/^arn:[a-z-]+:iam::\d{12}:(role|user)\/.+$/.test(arn)) {
      problems.push(
        `[adminPrincipalArns] "${arn}" is not an IAM role or user ARN (arn:<partition>:iam::<account>:role/<name>)`,
      );
    }
    if (seen.has(arn)) problems.push(`[adminPrincipalArns] "${arn}" is listed twice`);
    seen.add(arn);
  }
  return problems;
}

const minor = (v: string) => Number(v.split(".")[1]);

/**
 * An EKS version move the stack refuses, with what to do; empty when allowed. EKS updates a
 * control plane one minor version at a time and never downgrades it ("Update existing cluster
 * to new Kubernetes version", https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html).
 */
export function clusterUpgradeProblems(version: string, previousVersion?: string): string[] {
  if (previousVersion === undefined || previousVersion === version) return [];
  const from = minor(previousVersion);
  const to = minor(version);
  if (to < from) {
    return [
      `dr-stack:cluster.version: ${version} is older than the deployed ${previousVersion}; EKS ` +
        `cannot downgrade a cluster. Set it back to ${previousVersion}.`,
    ];
  }
  if (to > from + 1) {
    return [
      `dr-stack:cluster.version: ${previousVersion} to ${version} skips ` +
        `${to - from - 1} minor version(s); EKS upgrades one minor version at a time. Set ` +
        `cluster.version to 1.${from + 1} (cluster.previousVersion ${previousVersion}), \`pulumi up\` ` +
        `this stack and then the peer's, and repeat for each version up to ${version} ` +
        `(docs/runbooks/upgrades.md).`,
    ];
  }
  return [];
}

function servicePrincipalTrust(service: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: service },
        Action: ["sts:AssumeRole", "sts:TagSession"],
      },
    ],
  });
}

/**
 * One site's EKS cluster: secrets encrypted with the site key, control-plane logs, a private API
 * endpoint, access entries, a managed node group in private subnets, an OIDC provider for
 * workload identity (IRSA), the core add-ons, the EBS CSI driver (with its IRSA role), and a
 * Kubernetes provider for what runs inside.
 */
export class Cluster extends pulumi.ComponentResource {
  public readonly clusterName: pulumi.Output<string>;
  public readonly endpoint: pulumi.Output<string>;
  public readonly clusterSecurityGroupId: pulumi.Output<string>;
  public readonly oidcProviderArn: pulumi.Output<string>;
  /** Issuer without `https://`, as IAM trust-policy condition keys spell it. */
  public readonly oidcIssuer: pulumi.Output<string>;
  public readonly kubeconfig: pulumi.Output<string>;
  /** The EBS CSI controller's IRSA role. */
  public readonly ebsCsiRoleArn: pulumi.Output<string>;
  public readonly provider: k8s.Provider;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:compute:Cluster", name, {}, opts);
    const problems = [
      ...clusterArgsProblems(args),
      ...clusterUpgradeProblems(args.version, args.previousVersion),
    ];
    if (problems.length) throw new Error(`invalid Cluster args:\n  ${problems.join("\n  ")}`);
    const publicAccessCidrs = args.publicAccessCidrs ?? [];
    const adminPrincipalArns = args.adminPrincipalArns;
    const policies = eksPolicyArns(args.partition ?? "aws");
    const nodeInstanceTypes = args.nodeInstanceTypes ?? ["m6i.large"];
    const nodeMinSize = args.nodeMinSize ?? 2;
    const nodeDesiredSize = args.nodeDesiredSize ?? 2;
    const nodeMaxSize = args.nodeMaxSize ?? 4;
    const logRetentionDays = args.logRetentionDays ?? 90;
    const nodeDiskSizeGb = args.nodeDiskSizeGb ?? 80;
    const tags = args.tags ?? {};
    const region = args.region;
    const child = { parent: this };

    const clusterRole = new aws.iam.Role(
      `${name}-cluster`,
      { assumeRolePolicy: servicePrincipalTrust("eks.amazonaws.com"), tags },
      child,
    );
    const clusterPolicy = new aws.iam.RolePolicyAttachment(
      `${name}-cluster`,
      { role: clusterRole.name, policyArn: policies.cluster },
      child,
    );

    // EKS writes to this exact name; creating it first sets retention and encryption.
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-control-plane`,
      {
        region,
        name: `/aws/eks/${args.clusterName}/cluster`,
        retentionInDays: logRetentionDays,
        kmsKeyId: args.kmsKeyArn,
        tags,
      },
      child,
    );

    const cluster = new aws.eks.Cluster(
      name,
      {
        region,
        name: args.clusterName,
        version: args.version,
        roleArn: clusterRole.arn,
        vpcConfig: {
          subnetIds: args.privateSubnetIds,
          endpointPrivateAccess: true,
          endpointPublicAccess: publicAccessCidrs.length > 0,
          publicAccessCidrs: publicAccessCidrs.length > 0 ? publicAccessCidrs : undefined,
        },
        encryptionConfig: { provider: { keyArn: args.kmsKeyArn }, resources: ["secrets"] },
        enabledClusterLogTypes: [...CONTROL_PLANE_LOG_TYPES],
        // API mode: access is IAM access entries, not the aws-auth ConfigMap. No implicit entry for
        // the creator: every admin, the deployer included, is an explicit entry below.
        accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false },
        deletionProtection: true,
        tags,
      },
      { parent: this, dependsOn: [clusterPolicy, logGroup] },
    );

    const adminAccess = adminPrincipalArns.map((principalArn, i) => {
      const entry = new aws.eks.AccessEntry(
        `${name}-admin-${i}`,
        { region, clusterName: cluster.name, principalArn, type: "STANDARD", tags },
        child,
      );
      return new aws.eks.AccessPolicyAssociation(
        `${name}-admin-${i}`,
        {
          region,
          clusterName: cluster.name,
          principalArn,
          policyArn: policies.clusterAdmin,
          accessScope: { type: "cluster" },
        },
        { parent: this, dependsOn: [entry] },
      );
    });

    const nodeRole = new aws.iam.Role(
      `${name}-nodes`,
      { assumeRolePolicy: servicePrincipalTrust("ec2.amazonaws.com"), tags },
      child,
    );
    const nodePolicies = policies.nodes.map(
      (policyArn, i) =>
        new aws.iam.RolePolicyAttachment(
          `${name}-nodes-${i}`,
          { role: nodeRole.name, policyArn },
          child,
        ),
    );

    const earlyAddons = CORE_ADDONS.filter((a) => a !== "coredns").map(
      (addonName) =>
        new aws.eks.Addon(
          `${name}-${addonName}`,
          {
            region,
            clusterName: cluster.name,
            addonName,
            // The VPC CNI enforces NetworkPolicy (the backup jobs' egress-only policy) only when
            // asked; otherwise the API server accepts policies that nothing enforces.
            // https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html
            configurationValues:
              addonName === "vpc-cni" ? JSON.stringify({ enableNetworkPolicy: "true" }) : undefined,
            resolveConflictsOnCreate: "OVERWRITE",
            resolveConflictsOnUpdate: "PRESERVE",
            tags,
          },
          child,
        ),
    );

    const launchTemplate = nodeLaunchTemplate(
      `${name}-nodes`,
      { region, kmsKeyArn: args.kmsKeyArn, diskSizeGb: nodeDiskSizeGb, tags },
      child,
    );

    const nodeGroup = new aws.eks.NodeGroup(
      `${name}-nodes`,
      {
        region,
        clusterName: cluster.name,
        nodeRoleArn: nodeRole.arn,
        subnetIds: args.privateSubnetIds,
        instanceTypes: nodeInstanceTypes,
        amiType: "AL2023_x86_64_STANDARD",
        // The nodes follow the control plane in the same update, after it (clusterName is the
        // cluster's output): EKS refuses nodes newer than the control plane (update-cluster.html).
        version: args.version,
        releaseVersion: args.nodeReleaseVersion,
        // The root volume (size, site key) is the launch template's; diskSize would conflict.
        launchTemplate: {
          id: launchTemplate.id,
          version: launchTemplate.latestVersion.apply((v) => String(v)),
        },
        scalingConfig: { minSize: nodeMinSize, desiredSize: nodeDesiredSize, maxSize: nodeMaxSize },
        updateConfig: { maxUnavailable: 1 },
        tags,
      },
      { parent: this, dependsOn: [...nodePolicies, ...earlyAddons] },
    );

    new aws.eks.Addon(
      `${name}-coredns`,
      {
        region,
        clusterName: cluster.name,
        addonName: "coredns",
        resolveConflictsOnCreate: "OVERWRITE",
        resolveConflictsOnUpdate: "PRESERVE",
        tags,
      },
      { parent: this, dependsOn: [nodeGroup] },
    );

    const issuerUrl = cluster.identities.apply((ids) => {
      const issuer = ids?.[0]?.oidcs?.[0]?.issuer;
      // EKS always reports an issuer once the cluster exists; an empty one is a provider bug.
      return issuer ?? "";
    });
    const oidc = new aws.iam.OpenIdConnectProvider(
      `${name}-oidc`,
      { url: issuerUrl, clientIdLists: ["sts.amazonaws.com"], tags },
      child,
    );

    const oidcIssuer = issuerUrl.apply((u) => u.replace(/^https:\/\//, ""));
    // Provisions the drill's scratch volumes.
    const ebsCsi = new EbsCsiDriver(
      `${name}-ebs-csi`,
      {
        region,
        clusterName: cluster.name,
        oidcProviderArn: oidc.arn,
        oidcIssuer,
        nodeGroup,
        kmsKeyArn: args.kmsKeyArn,
        partition: args.partition ?? "aws",
        tags,
      },
      child,
    );

    this.clusterName = cluster.name;
    this.endpoint = cluster.endpoint;
    this.clusterSecurityGroupId = cluster.vpcConfig.apply((v) => v.clusterSecurityGroupId ?? "");
    this.oidcProviderArn = oidc.arn;
    this.oidcIssuer = oidcIssuer;
    this.ebsCsiRoleArn = ebsCsi.roleArn;
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([cluster.name, cluster.endpoint, cluster.certificateAuthority])
        .apply(([clusterName, endpoint, ca]) =>
          kubeconfigFor({ clusterName, endpoint, caData: ca.data ?? "", region }),
        ),
    );
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig: this.kubeconfig, enableServerSideApply: true },
      // The provider authenticates as the deployer, whom the API server admits only once the
      // deployer's access policy is associated (access entries alone grant nothing:
      // https://docs.aws.amazon.com/eks/latest/userguide/access-policies.html); pods need nodes.
      { parent: this, dependsOn: [nodeGroup, ...adminAccess] },
    );
    this.registerOutputs({
      clusterName: this.clusterName,
      endpoint: this.endpoint,
      clusterSecurityGroupId: this.clusterSecurityGroupId,
      oidcProviderArn: this.oidcProviderArn,
      oidcIssuer: this.oidcIssuer,
      kubeconfig: this.kubeconfig,
      ebsCsiRoleArn: this.ebsCsiRoleArn,
      provider: this.provider,
    });
  }
}
