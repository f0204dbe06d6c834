import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { BackupJobPurpose } from "../naming";
import { serviceAccountTrust } from "../platform/irsa";
import { iamRoleNameProblem } from "../validation";

/** The tier prefixes backups live under and the drill's report prefix (docs/architecture.md §4). */
export const TIER_PREFIXES = ["daily", "weekly", "monthly"] as const;
export const REPORTS_PREFIX = "reports";
/** Where `drctl check` writes its probe object (drctl/src/commands/check.ts). */
export const CHECK_PREFIX = `${REPORTS_PREFIX}/check`;

export interface BackupIdentityArgs {
  /** What the jobs running as this identity do: decides the policy (docs/architecture.md §8). */
  readonly purpose: BackupJobPurpose;
  /** naming.backupJobRoleName: fixed, at most 64 characters. */
  readonly roleName: string;
  /** Region of the site: the KMS `kms:ViaService` condition names its S3 and Secrets Manager. */
  readonly region: string;
  /** ARN of the cluster's IAM OIDC provider (`Cluster.oidcProviderArn`). */
  readonly oidcProviderArn: pulumi.Input<string>;
  /** The cluster's OIDC issuer without `https://` (`Cluster.oidcIssuer`). */
  readonly oidcIssuer: pulumi.Input<string>;
  /** Kubernetes namespace of the ServiceAccount the role trusts. */
  readonly namespace: string;
  /** Name of the ServiceAccount the role trusts (naming.backupJobServiceAccount). */
  readonly serviceAccount: string;
  /** ARN of this site's backup bucket (naming.backupBucketArn). */
  readonly bucketArn: string;
  /** ARN of this site's KMS key: the bucket policy requires SSE-KMS with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** CloudWatch namespace drctl may publish into (naming.metricsNamespace). */
  readonly metricsNamespace: string;
  /**
   * The backup login's secret, as an ARN pattern from naming (the `writer` purpose only). A
   * pattern, not the secret's ARN, so that the grant never changes with the role (docs/architecture.md §2b).
   * @default undefined
   */
  readonly loginSecretArnPattern?: string;
  /**
   * Secrets no job may read, whatever else grants it: the master credentials of both sites
   * (docs/architecture.md §8). Explicitly denied. @default []
   */
  readonly deniedSecretArnPatterns?: string[];
  /** Tags for the role. @default {} */
  readonly tags?: Record<string, string>;
}

export interface JobPolicyInput {
  readonly purpose: BackupJobPurpose;
  readonly region: string;
  readonly bucketArn: string;
  readonly kmsKeyArn: string;
  readonly metricsNamespace: string;
  readonly loginSecretArnPattern?: string;
  readonly deniedSecretArnPatterns?: string[];
}

/** What each purpose reads and creates, as bucket prefixes. */
export function jobPrefixes(purpose: BackupJobPurpose): { read: string[]; create: string[] } {
  const tiers = [...TIER_PREFIXES];
  switch (purpose) {
    // reports/check: `drctl check`, run before each monthly backup, writes and reads its probe.
    case "writer":
      return { read: [...tiers, CHECK_PREFIX], create: [...tiers, CHECK_PREFIX] };
    case "reader":
      return { read: [...tiers, REPORTS_PREFIX], create: [] };
    case "drill":
      return { read: [...tiers, REPORTS_PREFIX], create: [REPORTS_PREFIX] };
  }
}

/**
 * One job purpose's policy, and nothing more (docs/architecture.md §8):
 *  - writer (backup-daily/weekly/monthly): create objects under the tier prefixes, with the
 *    Object Lock retention drctl sets on each (PutObject with retention headers needs
 *    s3:PutObjectRetention, per the PutObjectRetention reference); read the backup login secret;
 *  - reader (verify, status): read and list backups and reports;
 *  - drill: read and list, create under `reports/` only.
 * No purpose has any Delete* action or s3:BypassGovernanceRetention: lifecycle rules expire old
 * backups, so a stolen token cannot erase them, and the bucket policy denies the bypass anyway.
 * The master credentials are denied explicitly, so no later grant can hand them to a job.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html
 */
export function jobPolicyDocument(p: JobPolicyInput): string {
  const { read, create } = jobPrefixes(p.purpose);
  const objects = (prefixes: string[]) => prefixes.map((prefix) => `${p.bucketArn}/${prefix}/*`);
  const writes = create.length > 0;
  const statements: Record<string, unknown>[] = [];
  if (writes) {
    statements.push({
      Sid: "CreateObjects",
      Effect: "Allow",
      // PutObject covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload; the
      // bucket policy makes every creation under a tier prefix conditional (If-None-Match).
      Action: ["s3:PutObject", "s3:PutObjectRetention", "s3:AbortMultipartUpload"],
      Resource: objects(create),
    });
  }
  statements.push(
    {
      Sid: "ReadObjects",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:GetObjectRetention"],
      Resource: objects(read),
    },
    {
      Sid: "ListPrefixes",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [p.bucketArn],
      // drctl lists with Prefix "daily/" etc.; `*` also matches the empty rest.
      Condition: { StringLike: { "s3:prefix": read.map((prefix) => `${prefix}/*`) } },
    },
    ...(p.purpose === "writer"
      ? [
          {
            Sid: "ReadBucketProtection",
            Effect: "Allow",
            // What `drctl check` reads of the bucket before each monthly backup: versioning, the
            // Object Lock default retention and the create-only bucket policy. Reads only.
            // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
            Action: [
              "s3:GetBucketVersioning",
              "s3:GetBucketObjectLockConfiguration",
              "s3:GetBucketPolicy",
            ],
            Resource: [p.bucketArn],
          },
        ]
      : []),
    {
      Sid: "UseSiteKeyThroughS3",
      Effect: "Allow",
      // GenerateDataKey for SSE-KMS uploads; Decrypt for downloads and for completing multipart
      // uploads. https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
      Action: writes ? ["kms:GenerateDataKey", "kms:Decrypt"] : ["kms:Decrypt"],
      Resource: [p.kmsKeyArn],
      Condition: { StringEquals: { "kms:ViaService": `s3.${p.region}.amazonaws.com` } },
    },
    {
      Sid: "PublishBackupMetrics",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricData"],
      // PutMetricData has no resource-level permissions: the only scoping IAM offers is the
      // cloudwatch:namespace condition key.
      // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
      Resource: "*",
      Condition: { StringEquals: { "cloudwatch:namespace": p.metricsNamespace } },
    },
  );
  if (p.purpose === "writer" && p.loginSecretArnPattern !== undefined) {
    statements.push(
      {
        Sid: "ReadBackupLoginSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [p.loginSecretArnPattern],
      },
      {
        Sid: "DecryptBackupLoginSecret",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: [p.kmsKeyArn],
        Condition: {
          StringEquals: { "kms:ViaService": `secretsmanager.${p.region}.amazonaws.com` },
        },
      },
    );
  }
  const denied = p.deniedSecretArnPatterns ?? [];
  if (denied.length > 0) {
    statements.push({
      Sid: "DenyMasterCredentials",
      Effect: "Deny",
      Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
      Resource: denied,
    });
  }
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * The IAM role one kind of backup job runs as (IRSA): trusted through the cluster's OIDC provider
 * for one ServiceAccount, allowed exactly what that purpose needs. Exists in every role of the
 * site, with a policy that never changes with the role (docs/architecture.md §2b).
 */
export class BackupIdentity extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;
  public readonly roleName: pulumi.Output<string>;

  constructor(name: string, args: BackupIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:BackupIdentity", name, {}, opts);
    const nameProblem = iamRoleNameProblem(args.roleName);
    if (nameProblem) throw new Error(`[roleName] ${nameProblem}`);
    if (args.purpose !== "writer" && args.loginSecretArnPattern !== undefined) {
      throw new Error(
        `[loginSecretArnPattern] is for the writer identity only; the ${args.purpose} jobs never connect to the database`,
      );
    }
    const tags = args.tags ?? {};

    const role = new aws.iam.Role(
      name,
      {
        name: args.roleName,
        description: `drctl ${args.purpose} jobs in ${args.namespace}/${args.serviceAccount}`,
        assumeRolePolicy: serviceAccountTrust(
          args.oidcProviderArn,
          args.oidcIssuer,
          args.namespace,
          args.serviceAccount,
        ),
        tags,
      },
      { parent: this },
    );

    new aws.iam.RolePolicy(
      name,
      {
        role: role.name,
        policy: pulumi.output(args.kmsKeyArn).apply((kmsKeyArn) =>
          jobPolicyDocument({
            purpose: args.purpose,
            region: args.region,
            bucketArn: args.bucketArn,
            kmsKeyArn,
            metricsNamespace: args.metricsNamespace,
            loginSecretArnPattern: args.loginSecretArnPattern,
            deniedSecretArnPatterns: args.deniedSecretArnPatterns,
          }),
        ),
      },
      { parent: this },
    );

    this.roleArn = role.arn;
    this.roleName = role.name;
    this.registerOutputs({ roleArn: this.roleArn, roleName: this.roleName });
  }
}
