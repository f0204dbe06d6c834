import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Prefixes of the backup bucket that drctl writes: the three tiers and the drill reports. */
export const BACKUP_WRITE_PREFIXES = ["daily", "weekly", "monthly", "reports"] as const;

export interface BackupIdentityArgs {
  /** Region of the site: the KMS `kms:ViaService` condition names its S3 and Secrets Manager. */
  readonly region: string;
  /** ARN of the cluster's IAM OIDC provider (`Cluster.oidcProviderArn`). */
  readonly oidcProviderArn: pulumi.Input<string>;
  /** The cluster's OIDC issuer without `https://` (`Cluster.oidcIssuer`). */
  readonly oidcIssuer: pulumi.Input<string>;
  /** Kubernetes namespace of the ServiceAccount the role trusts. */
  readonly namespace: string;
  /** Name of the ServiceAccount the role trusts. */
  readonly serviceAccount: string;
  /** ARN of this site's backup bucket (naming.backupBucketArn). */
  readonly bucketArn: string;
  /** ARN of this site's KMS key: the bucket policy requires SSE-KMS with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** CloudWatch namespace drctl may publish into (naming.metricsNamespace). */
  readonly metricsNamespace: string;
  /**
   * Secrets Manager secret with the `backup` database role's credentials. Without it the role
   * gets no Secrets Manager access (the drill and verify never connect to the source database).
   * @default undefined
   */
  readonly databaseSecretArn?: pulumi.Input<string>;
  /** Tags for the role. @default {} */
  readonly tags?: Record<string, string>;
}

/** The `sub` claim a pod's projected token carries for `namespace/serviceAccount`. */
export function serviceAccountSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/**
 * IRSA trust: only pods running as exactly this ServiceAccount, with a token minted for STS,
 * may assume the role. Without the `sub` condition any pod in the cluster could.
 * https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
 */
export function irsaTrustPolicy(
  oidcProviderArn: string,
  oidcIssuer: string,
  subject: string,
): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${oidcIssuer}:sub`]: subject,
            [`${oidcIssuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ],
  });
}

export interface BackupPolicyInput {
  readonly region: string;
  readonly bucketArn: string;
  readonly kmsKeyArn: string;
  readonly metricsNamespace: string;
  readonly databaseSecretArn?: string;
}

/**
 * What drctl may do, and nothing else: write and read objects under the tier and report prefixes,
 * list only those prefixes, use the site key through S3 or Secrets Manager, read one secret, and
 * publish metrics into one namespace. No delete: lifecycle rules expire old backups, so a stolen
 * token cannot erase them.
 */
export function backupPolicyDocument(p: BackupPolicyInput): string {
  const objectArns = BACKUP_WRITE_PREFIXES.map((prefix) => `${p.bucketArn}/${prefix}/*`);
  const statements: Record<string, unknown>[] = [
    {
      Sid: "WriteBackupsAndReports",
      Effect: "Allow",
      // PutObject covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload.
      Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
      Resource: objectArns,
    },
    {
      Sid: "ReadBackupsAndReports",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: objectArns,
    },
    {
      Sid: "ListBackupPrefixes",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [p.bucketArn],
      // drctl lists with Prefix "daily/" etc.; `*` also matches the empty rest.
      Condition: {
        StringLike: { "s3:prefix": BACKUP_WRITE_PREFIXES.map((prefix) => `${prefix}/*`) },
      },
    },
    {
      Sid: "UseSiteKeyThroughS3AndSecretsManager",
      Effect: "Allow",
      // GenerateDataKey for SSE-KMS uploads; Decrypt for downloads and for completing multipart
      // uploads. https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: [p.kmsKeyArn],
      Condition: {
        StringEquals: {
          "kms:ViaService": [
            `s3.${p.region}.amazonaws.com`,
            `secretsmanager.${p.region}.amazonaws.com`,
          ],
        },
      },
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
  ];
  if (p.databaseSecretArn !== undefined) {
    statements.push({
      Sid: "ReadBackupRoleSecret",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: [p.databaseSecretArn],
    });
  }
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * The IAM role drctl runs as in one cluster (IRSA): trusted through the cluster's OIDC provider
 * for one ServiceAccount, allowed exactly what backups, verify and the drill need.
 */
export class BackupIdentity extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;
  public readonly roleName: pulumi.Output<string>;

  constructor(name: string, args: BackupIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:BackupIdentity", name, {}, opts);
    const tags = args.tags ?? {};
    const subject = serviceAccountSubject(args.namespace, args.serviceAccount);

    const role = new aws.iam.Role(
      name,
      {
        description: `drctl in ${args.namespace}/${args.serviceAccount}: backups, verify, restore drill`,
        assumeRolePolicy: pulumi
          .all([args.oidcProviderArn, args.oidcIssuer])
          .apply(([arn, issuer]) => irsaTrustPolicy(arn, issuer, subject)),
        tags,
      },
      { parent: this },
    );

    new aws.iam.RolePolicy(
      name,
      {
        role: role.name,
        policy: pulumi
          .all([args.kmsKeyArn, args.databaseSecretArn])
          .apply(([kmsKeyArn, databaseSecretArn]) =>
            backupPolicyDocument({
              region: args.region,
              bucketArn: args.bucketArn,
              kmsKeyArn,
              metricsNamespace: args.metricsNamespace,
              databaseSecretArn,
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
