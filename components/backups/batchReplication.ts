import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "../serviceTrust";
import { iamRoleNameProblem } from "../validation";

export interface BatchReplicationRoleArgs {
  /** naming.batchReplicationRoleName: fixed, so drctl derives its ARN from naming alone. */
  readonly roleName: string;
  readonly accountId: string;
  /** Region of the site: the KMS `kms:ViaService` condition names its S3. */
  readonly region: string;
  /** This site's backup bucket (naming.backupBucketArn): the replication source. */
  readonly bucketArn: string;
  /** naming.batchReplicationReportPrefix: where the job's completion report goes. */
  readonly reportPrefix: string;
  /** The site key: the bucket's default encryption, so the report is written with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Tags for the role. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * The permissions of "Configuring an IAM role for S3 Batch Replication", policy "if using and
 * storing an Amazon S3 generated manifest", for a job whose source, manifest and completion-report
 * bucket are all the site's backup bucket (drctl/src/failover/awsSites.ts startBatchReplication):
 *  - s3:InitiateReplication on the source's objects;
 *  - s3:GetReplicationConfiguration and s3:PutInventoryConfiguration on the source bucket (S3
 *    generates the manifest from the replication configuration);
 *  - s3:GetObject and s3:GetObjectVersion on the manifest, s3:PutObject for the completion report
 *    and the manifest: narrowed from the page's `bucket/*` to the report prefix, where drctl has
 *    the job write both, so the role can neither read nor create a backup.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-policies.html
 * The report lands in a bucket whose default encryption is SSE-KMS with the site key, so writing
 * it needs kms:GenerateDataKey (and kms:Decrypt to complete a multipart upload), through S3 only:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
 * No Delete*: Batch Replication copies; the replication configuration's own role writes replicas.
 */
export function batchReplicationPolicy(p: {
  region: string;
  bucketArn: string;
  reportPrefix: string;
  kmsKeyArn: string;
}): object {
  const reports = `${p.bucketArn}/${p.reportPrefix}/*`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "InitiateReplication",
        Effect: "Allow",
        Action: ["s3:InitiateReplication"],
        Resource: [`${p.bucketArn}/*`],
      },
      {
        Sid: "GenerateManifest",
        Effect: "Allow",
        Action: ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
        Resource: [p.bucketArn],
      },
      {
        Sid: "ReadManifest",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:GetObjectVersion"],
        Resource: [reports],
      },
      {
        Sid: "WriteReportAndManifest",
        Effect: "Allow",
        Action: ["s3:PutObject"],
        Resource: [reports],
      },
      {
        Sid: "EncryptReportWithSiteKey",
        Effect: "Allow",
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Resource: [p.kmsKeyArn],
        Condition: { StringEquals: { "kms:ViaService": `s3.${p.region}.amazonaws.com` } },
      },
    ],
  };
}

/**
 * The S3 Batch Operations role of `drctl failover reconnect`, pre-provisioned in every role of the
 * site (docs/architecture.md §2b), so a reconnect creates no IAM. Trusts S3 Batch Operations for this account
 * only ("Granting permissions for Batch Operations", trust policy, with aws:SourceAccount):
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html
 */
export class BatchReplicationRole extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;

  constructor(
    name: string,
    args: BatchReplicationRoleArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("drstack:backup:BatchReplicationRole", name, {}, opts);
    const nameProblem = iamRoleNameProblem(args.roleName);
    if (nameProblem) throw new Error(`[roleName] ${nameProblem}`);
    const tags = args.tags ?? {};
    const role = new aws.iam.Role(
      name,
      {
        name: args.roleName,
        description: "S3 Batch Replication of the backups written while replication was off",
        assumeRolePolicy: JSON.stringify(
          serviceTrustPolicy("batchoperations.s3.amazonaws.com", args.accountId),
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
          JSON.stringify(
            batchReplicationPolicy({
              region: args.region,
              bucketArn: args.bucketArn,
              reportPrefix: args.reportPrefix,
              kmsKeyArn,
            }),
          ),
        ),
      },
      { parent: this },
    );
    this.roleArn = role.arn;
    this.registerOutputs({ roleArn: this.roleArn });
  }
}
