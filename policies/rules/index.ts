import type { Policies } from "@pulumi/policy";
import { drBackupPlanColdStorage } from "./backup/plan/coldStorage";
import { drBackupPlanRetention } from "./backup/plan/retention";
import { drBackupVaultKms } from "./backup/vault/kms";
import { drBackupVaultLockChangeableDays } from "./backup/vaultLockConfiguration/changeableDays";
import { drEksClusterSecretsEncryption } from "./eks/cluster/secretsEncryption";
import { drKmsKeyRotation } from "./kms/key/rotation";
import { drKubernetesCronJobHygiene } from "./kubernetes/cronJob/hygiene";
import { drRdsInstanceBackupRetention } from "./rds/instance/backupRetention";
import { drRdsInstanceBackupsReplicated } from "./rds/instance/backupsReplicated";
import { drRdsInstanceCmkEncryption } from "./rds/instance/cmkEncryption";
import { drRdsInstanceNotPublic } from "./rds/instance/notPublic";
import { drRdsInstancePrimaryDeletionProtection } from "./rds/instance/primaryDeletionProtection";
import { drRdsInstancePrimaryMultiAz } from "./rds/instance/primaryMultiAz";
import { drRoute53RecordAliasNoTtl } from "./route53/record/aliasNoTtl";
import { drRoute53RecordPrimaryHealthCheck } from "./route53/record/primaryHealthCheck";
import { drS3BucketAbortMultipart } from "./s3/bucket/abortMultipart";
import { drS3BucketPublicAccessBlock } from "./s3/bucket/publicAccessBlock";
import { drS3BucketReplicationRtc } from "./s3/bucket/replicationRtc";
import { drS3BucketSseKms } from "./s3/bucket/sseKms";
import { drS3BucketTierLifecycle } from "./s3/bucket/tierLifecycle";
import { drS3BucketTlsOnly } from "./s3/bucket/tlsOnly";
import { drSnsTopicKms } from "./sns/topic/kms";
import { drBackupVaultLocked } from "./backup/vault/locked";
import { drIamRoleJobNoDelete } from "./iam/role/jobNoDelete";
import { drIamRoleJobNoMasterSecret } from "./iam/role/jobNoMasterSecret";
import { drKmsKeyDeletionProtection } from "./kms/key/deletionProtection";
import { drKubernetesCronJobDatabaseTls } from "./kubernetes/cronJob/databaseTls";
import { drKubernetesCronJobObjectLockDays } from "./kubernetes/cronJob/objectLockDays";
import { drS3BucketCreateOnly } from "./s3/bucket/createOnly";
import { drS3BucketObjectLock } from "./s3/bucket/objectLock";
import { drS3BucketVersioning } from "./s3/bucket/versioning";

/** Every rule of the dr-stack-guard pack, one per file; policies/index.ts serves this list. */
export const policies: Policies = [
  // encryption
  drS3BucketSseKms,
  drS3BucketTlsOnly,
  drRdsInstanceCmkEncryption,
  drKmsKeyRotation,
  drEksClusterSecretsEncryption,
  drBackupVaultKms,
  drSnsTopicKms,
  drKubernetesCronJobDatabaseTls,
  // immutability: what a stolen job credential or an admin's mistake cannot destroy
  drS3BucketVersioning,
  drS3BucketObjectLock,
  drKubernetesCronJobObjectLockDays,
  drS3BucketCreateOnly,
  drBackupVaultLocked,
  drKmsKeyDeletionProtection,
  drIamRoleJobNoDelete,
  drIamRoleJobNoMasterSecret,
  // retention
  drRdsInstanceBackupRetention,
  drS3BucketTierLifecycle,
  drS3BucketAbortMultipart,
  drBackupPlanRetention,
  drBackupPlanColdStorage,
  drBackupVaultLockChangeableDays,
  // replication and resilience
  drS3BucketReplicationRtc,
  drRdsInstanceBackupsReplicated,
  drRdsInstancePrimaryDeletionProtection,
  drRdsInstancePrimaryMultiAz,
  drRdsInstanceNotPublic,
  drS3BucketPublicAccessBlock,
  // DNS
  drRoute53RecordPrimaryHealthCheck,
  drRoute53RecordAliasNoTtl,
  // advisory
  drKubernetesCronJobHygiene,
];
