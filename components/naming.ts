/**
 * Every name and ARN that one site needs of itself or of its peer, derived from shared config
 * alone. Both stacks call these same pure functions, so neither needs a StackReference (or any
 * state in the failed region) to create or promote anything (docs/architecture.md §2).
 */

/** What naming needs to know: identical in both stacks' config. */
export interface NamingInput {
  /** Project-wide name prefix, e.g. "acme-dr". */
  readonly name: string;
  /** AWS account that holds both sites. */
  readonly accountId: string;
  /** AWS partition. @default "aws" */
  readonly partition?: string;
}

/** A site as naming sees it: its key in the sites map and its region. */
export interface SiteRef {
  readonly site: string;
  readonly region: string;
}

const partition = (n: NamingInput): string => n.partition ?? "aws";

/** `acme-dr-use1`: the stem of every per-site name. */
export function siteStem(n: NamingInput, s: SiteRef): string {
  return `${n.name}-${s.site}`;
}

export function clusterName(n: NamingInput, s: SiteRef): string {
  return siteStem(n, s);
}

export function dbInstanceIdentifier(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-pg`;
}

export function dbInstanceArn(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:rds:${s.region}:${n.accountId}:db:${dbInstanceIdentifier(n, s)}`;
}

/**
 * Snapshot RDS takes when the program deletes the site's instance (a failback rebuild or a
 * destroy). Fixed, so both the operator and the runbook know where the old data went; RDS refuses
 * to overwrite an existing snapshot, so a second rebuild fails safely until the first one is
 * renamed or removed (docs/failover.md).
 */
export function dbFinalSnapshotIdentifier(n: NamingInput, s: SiteRef): string {
  return `${dbInstanceIdentifier(n, s)}-final`;
}

/** In-region read replica `i` (0-based) of the site's primary. */
export function dbReadReplicaIdentifier(n: NamingInput, s: SiteRef, i: number): string {
  return `${dbInstanceIdentifier(n, s)}-ro${i + 1}`;
}

/** Secrets Manager name of a database login the program manages (`backup`, `app`). */
export function dbLoginSecretName(n: NamingInput, s: SiteRef, login: string): string {
  return `${siteStem(n, s)}/db/${login}`;
}

/** S3 names are global, so the account id keeps two customers' `acme-dr` apart. */
export function backupBucketName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-backups-${n.accountId}`;
}

export function backupBucketArn(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:s3:::${backupBucketName(n, s)}`;
}

export function kmsAliasName(n: NamingInput, s: SiteRef): string {
  return `alias/${siteStem(n, s)}`;
}

/**
 * An alias ARN names the peer's key without knowing its key id. S3 replication and AWS Backup
 * copy actions accept it; IAM does not authorize by alias ARN, so policies match keys in the
 * region by `kms:ResourceAliases` instead (see kmsKeyArnPattern).
 */
export function kmsAliasArn(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:kms:${s.region}:${n.accountId}:${kmsAliasName(n, s)}`;
}

/** All keys in the site's region: pair with a `kms:ResourceAliases` condition. */
export function kmsKeyArnPattern(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:kms:${s.region}:${n.accountId}:key/*`;
}

export function backupVaultName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-vault`;
}

export function backupVaultArn(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:backup:${s.region}:${n.accountId}:backup-vault:${backupVaultName(n, s)}`;
}

/** The site's CloudWatch dashboard of its DR signals. */
export function dashboardName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-dr`;
}

export function alarmTopicName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-dr-alarms`;
}

/** The site's alarm topic (in its own region): the peer's alarms in that region page through it. */
export function alarmTopicArn(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:sns:${s.region}:${n.accountId}:${alarmTopicName(n, s)}`;
}

/** Route 53 failover records of both sites share a name and differ by this identifier. */
export function failoverSetIdentifier(n: NamingInput, s: SiteRef): string {
  return siteStem(n, s);
}

/**
 * CloudWatch alarm behind a private site's Route 53 health check (CLOUDWATCH_METRIC). A fixed
 * name lets runbooks and drctl read the alarm of either site without any stack's outputs.
 */
export function dnsHealthAlarmName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-dns-health`;
}

/** Namespace in each cluster that holds the backup and drill CronJobs. */
export const backupNamespace = "dr-backup";

/** CloudWatch namespace drctl publishes its metrics into. */
export const metricsNamespace = "DrStack/Backups";

/**
 * Id of the S3 replication rule that copies `from`'s backup bucket to `to`'s. S3 reports the
 * replication metrics (OperationsFailedReplication, ReplicationLatency) per rule, with this id
 * in the RuleId dimension, so the bucket's replication config and the alarms must both use it.
 */
export function replicationRuleId(from: SiteRef, to: SiteRef): string {
  return `backups-${from.site}-to-${to.site}`;
}

/**
 * The master credential of a site's database, a Secrets Manager secret in the site's own region
 * that the site's stack owns (with a replica in the peer region). It is the credential of the
 * site's database whenever that database is writable, so a promoted site can log in with what
 * its own region holds (docs/architecture.md §2a).
 */
export function dbMasterSecretName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}/db/master`;
}

/**
 * IAM role names a site's stack creates in every role (docs/architecture.md §2b), fixed so that the peer's
 * stack can name them too (the site key's policy in each region lets the replication role of
 * each direction use that key). IAM role names are at most 64 characters: the longest stem the
 * config allows is 20 + 1 + 10 = 31, and the longest suffix below is 22 (`-s3-repl-to-` + a
 * 10-character site), so 53 at most.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
 */
export function replicationRoleName(n: NamingInput, from: SiteRef, to: SiteRef): string {
  return `${siteStem(n, from)}-s3-repl-to-${to.site}`;
}

export function replicationRoleArn(n: NamingInput, from: SiteRef, to: SiteRef): string {
  return `arn:${partition(n)}:iam::${n.accountId}:role/${replicationRoleName(n, from, to)}`;
}

/**
 * The S3 Batch Operations role `drctl failover reconnect` runs its Batch Replication job as, for
 * the objects the site's bucket took while its replication was off. Exists in every role of the
 * site (docs/architecture.md §2b: a reconnect must not need IAM's control plane); `-s3-batch-repl` is 14
 * characters, so 45 at most.
 */
export function batchReplicationRoleName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-s3-batch-repl`;
}

export function batchReplicationRoleArn(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:iam::${n.accountId}:role/${batchReplicationRoleName(n, s)}`;
}

/** Where a Batch Replication job writes its completion report, in the site's own bucket. */
export const batchReplicationReportPrefix = "reports/batch-replication";

/** The role AWS Backup assumes to back up and restore the site's database. */
export function backupServiceRoleName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-aws-backup`;
}

/** Kinds of backup job, each with its own ServiceAccount and IAM role (docs/architecture.md §8). */
export const BACKUP_JOB_PURPOSES = ["writer", "reader", "drill"] as const;
export type BackupJobPurpose = (typeof BACKUP_JOB_PURPOSES)[number];

/** IRSA role of one job purpose: `<stem>-drctl-writer` etc. */
export function backupJobRoleName(n: NamingInput, s: SiteRef, purpose: BackupJobPurpose): string {
  return `${siteStem(n, s)}-drctl-${purpose}`;
}

/** ServiceAccount of one job purpose in the backup namespace. */
export function backupJobServiceAccount(purpose: BackupJobPurpose): string {
  return `drctl-${purpose}`;
}

/** The site's logically air-gapped vault (optional copy target of the peer's plan). */
export function airGappedVaultName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-airgapped`;
}

export function airGappedVaultArn(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:backup:${s.region}:${n.accountId}:backup-vault:${airGappedVaultName(n, s)}`;
}

/**
 * Every ARN a Secrets Manager secret named `name` can have in `region`: AWS appends `-` and six
 * random characters to the name. https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources
 */
export function secretArnPattern(n: NamingInput, region: string, name: string): string {
  return `arn:${partition(n)}:secretsmanager:${region}:${n.accountId}:secret:${name}-??????`;
}

/** The site's EKS cluster, by the name clusterName gives it. */
export function clusterArn(n: NamingInput, s: SiteRef): string {
  return `arn:${partition(n)}:eks:${s.region}:${n.accountId}:cluster/${clusterName(n, s)}`;
}

/**
 * The pair's one ARC Region switch plan (docs/region-switch.md). CreatePlan takes 1-32
 * characters of a-z, A-Z, 0-9 and inner hyphens; the longest config name is 20, so 23 at most.
 * https://docs.aws.amazon.com/arc-region-switch/latest/api/API_CreatePlan.html
 */
export function regionSwitchPlanName(n: NamingInput): string {
  return `${n.name}-dr`;
}

/**
 * Every version of the plan: Region switch appends `:` and six random characters to the name
 * (the Plan ARN pattern), so a policy names the plan by this pattern.
 * https://docs.aws.amazon.com/arc-region-switch/latest/api/API_Plan.html
 */
export function regionSwitchPlanArnPattern(n: NamingInput): string {
  return `arn:${partition(n)}:arc-region-switch::${n.accountId}:plan/${regionSwitchPlanName(n)}:*`;
}

/** The role Region switch assumes to run the plan; `-region-switch` is 14 characters, 34 at most. */
export function regionSwitchRoleName(n: NamingInput): string {
  return `${n.name}-region-switch`;
}

export function regionSwitchRoleArn(n: NamingInput): string {
  return `arn:${partition(n)}:iam::${n.accountId}:role/${regionSwitchRoleName(n)}`;
}

/** The plan's two custom-action functions each site declares in its own region. */
export const REGION_SWITCH_FUNCTIONS = ["fence", "check"] as const;
export type RegionSwitchFunction = (typeof REGION_SWITCH_FUNCTIONS)[number];

/** `<stem>-rs-fence`, `<stem>-rs-check`: Lambda function names are at most 64; 31 + 9 here. */
export function regionSwitchFunctionName(
  n: NamingInput,
  s: SiteRef,
  fn: RegionSwitchFunction,
): string {
  return `${siteStem(n, s)}-rs-${fn}`;
}

export function regionSwitchFunctionArn(
  n: NamingInput,
  s: SiteRef,
  fn: RegionSwitchFunction,
): string {
  return `arn:${partition(n)}:lambda:${s.region}:${n.accountId}:function:${regionSwitchFunctionName(n, s, fn)}`;
}

/** The execution role of a site's two functions (`-rs-lambda`, 10 characters: 41 at most). */
export function regionSwitchFunctionRoleName(n: NamingInput, s: SiteRef): string {
  return `${siteStem(n, s)}-rs-lambda`;
}

/** Where Region switch writes its execution reports, in each site's backup bucket. */
export const regionSwitchReportPrefix = "reports/region-switch/";

/**
 * The Kubernetes Secret, in the applications' namespace of each cluster, that holds the site's
 * own database connection with the `app` login (docs/applications.md).
 */
export const appDatabaseSecretName = "app-database";
