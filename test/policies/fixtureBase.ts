import type { EvaluatedResource } from "../../policies/evaluate";

/** Names, URNs and type tokens shared by the compliant fixture's files (fixtures.ts). */

export const ACCOUNT = "111122223333";
export const BUCKET = `acme-dr-use1-backups-${ACCOUNT}`;
export const PEER_BUCKET = `acme-dr-usw2-backups-${ACCOUNT}`;
export const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0f1e2d3c-4b5a-4697-8877-665544332211`;
export const PEER_KEY_ALIAS = `arn:aws:kms:us-west-2:${ACCOUNT}:alias/acme-dr-usw2`;
export const DB_ARN = `arn:aws:rds:us-east-1:${ACCOUNT}:db:acme-dr-use1-pg`;

export const urnOf = (type: string, name: string): string =>
  `urn:pulumi:primary::dr-stack::${type}::${name}`;

export function res(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  propertyDependencies: Record<string, string[]> = {},
): EvaluatedResource {
  return { type, name, urn: urnOf(type, name), inputs, propertyDependencies, dependsOn: [] };
}

const S3 = "aws:s3/";
export const T = {
  bucket: `${S3}bucket:Bucket`,
  sse: `${S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration`,
  lifecycle: `${S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration`,
  pab: `${S3}bucketPublicAccessBlock:BucketPublicAccessBlock`,
  policy: `${S3}bucketPolicy:BucketPolicy`,
  replication: `${S3}bucketReplicationConfig:BucketReplicationConfig`,
  db: "aws:rds/instance:Instance",
  paramGroup: "aws:rds/parameterGroup:ParameterGroup",
  dbBackups: "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
  key: "aws:kms/key:Key",
  eks: "aws:eks/cluster:Cluster",
  vault: "aws:backup/vault:Vault",
  plan: "aws:backup/plan:Plan",
  lock: "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
  topic: "aws:sns/topic:Topic",
  record: "aws:route53/record:Record",
  cronJob: "kubernetes:batch/v1:CronJob",
  versioning: `${S3}bucketVersioning:BucketVersioning`,
  objectLock: `${S3}bucketObjectLockConfiguration:BucketObjectLockConfiguration`,
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
} as const;

export const bucketUrn = urnOf(T.bucket, "acme-dr-use1-backups");
export const onBucket = { bucket: [bucketUrn] };
