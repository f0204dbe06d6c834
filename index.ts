/**
 * dr-stack: one site of the two-region warm-standby DR stack. Both stacks (Pulumi.primary.yaml,
 * Pulumi.dr.yaml) run this program; the config says which site this is and its role.
 */
import { AwsBackup } from "./components/backups/awsBackup";
import { BackupAlarms, ROUTE53_METRICS_REGION } from "./components/backups/alarms";
import { BackupJobs } from "./components/backups/jobs";
import { BackupStorage } from "./components/backups/storage";
import { BatchReplicationRole } from "./components/backups/batchReplication";
import { PitrJobs } from "./components/backups/pitrJobs";
import { RpoAlarms } from "./components/backups/rpoAlarms";
import { RpoMonitor } from "./components/backups/rpoMonitor";
import { Cluster, clusterUpgradeProblems } from "./components/platform/cluster";
import { loadConfig } from "./components/config";
import * as aws from "@pulumi/aws";
import { Database } from "./components/database/instance";
import { DbCredential, generatePassword } from "./components/database/credential";
import * as pulumi from "@pulumi/pulumi";
import { DbRoles } from "./components/database/roles";
import { assertDeclaredMoves } from "./components/database/transition";
import { DnsFailover } from "./components/dns/failover";
import * as naming from "./components/naming";
import { Network } from "./components/platform/network";
import { replicatesToPeer } from "./components/backups/replication";
import { RestoreTestAlarms } from "./components/restoreTesting/alarms";
import { SiteDashboard } from "./components/observability/dashboard";
import { RestoreTestCheck } from "./components/restoreTesting/check";
import { RestoreTesting } from "./components/restoreTesting/plan";
import { SiteKey } from "./components/platform/siteKey";
import { AppConnection } from "./components/applications/connection";
import { RegionSwitchAccess } from "./components/regionSwitch/access";
import { RegionSwitchFunctions } from "./components/regionSwitch/functions";
import { RegionSwitchPlan } from "./components/regionSwitch/plan";
import { RegionSwitchRole } from "./components/regionSwitch/executionRole";

const config = loadConfig();
const { self, peer, role } = config;
const names = { name: config.name, accountId: config.accountId, partition: config.partition };
const stem = naming.siteStem(names, self);
const tags = { ...config.tags, "dr-stack:site": self.site, "dr-stack:project": config.name };

// The declared moves (role, PostgreSQL and EKS versions) are checked before anything is
// registered: a refused move changes nothing.
assertDeclaredMoves(
  { role, previousRole: config.database.previousRole, allowRebuild: config.database.allowRebuild },
  { role, ...config.database },
  clusterUpgradeProblems(config.cluster.version, config.cluster.previousVersion),
);

const siteKey = new SiteKey(`${stem}-key`, {
  region: self.region,
  accountId: config.accountId,
  partition: config.partition,
  aliasName: naming.kmsAliasName(names, self),
  breakGlassPrincipalArn: config.breakGlassPrincipalArn,
  // The peer's role that writes its backups' replicas into this site's bucket (issue 13.6).
  peerReplicationRoleArn: naming.replicationRoleArn(names, peer, self),
  policyStep: { ...config.siteKey, roleMove: config.database.previousRole !== undefined },
  tags,
});

const network = new Network(`${stem}-net`, {
  region: self.region,
  accountId: config.accountId,
  partition: config.partition,
  vpcCidr: self.config.vpcCidr,
  azCount: self.config.azCount,
  kmsKeyArn: siteKey.keyArn,
  natGateways: config.network.natGateways,
  flowLogRetentionDays: config.network.flowLogRetentionDays,
  tags,
});

const cluster = new Cluster(`${stem}-eks`, {
  region: self.region,
  clusterName: naming.clusterName(names, self),
  version: config.cluster.version,
  previousVersion: config.cluster.previousVersion,
  nodeReleaseVersion: config.cluster.nodeReleaseVersion,
  privateSubnetIds: network.privateSubnetIds,
  kmsKeyArn: siteKey.keyArn,
  publicAccessCidrs: config.cluster.publicAccessCidrs,
  adminPrincipalArns: config.cluster.adminPrincipalArns,
  partition: config.partition,
  nodeInstanceTypes: config.cluster.nodeInstanceTypes,
  nodeMinSize: config.cluster.nodeMinSize,
  nodeDesiredSize: config.cluster.nodeDesiredSize,
  nodeMaxSize: config.cluster.nodeMaxSize,
  nodeDiskSizeGb: config.cluster.nodeDiskSizeGb,
  tags,
});

const db = config.database;
// Create-only: the same value goes to a new instance and to its new master secret (both ignore
// later changes); a standby's password is its source's.
const masterInitialPassword = role === "standby" ? undefined : pulumi.secret(generatePassword());

// 13.3: the replication's kmsKeyId is ForceNew and AWS reads back the key ARN, which names
// cannot give (key ids are random). Looked up in the peer region only while peerLinks is on, that
// is only while the peer region answers: a failover (peerLinks off) never reads the failed region.
const peerKmsKeyArn =
  config.peerLinks && role === "primary"
    ? aws.kms.getAliasOutput({ region: peer.region, name: naming.kmsAliasName(names, peer) })
        .targetKeyArn
    : undefined;

const database = new Database(`${stem}-db`, {
  region: self.region,
  role,
  identifier: naming.dbInstanceIdentifier(names, self),
  finalSnapshotIdentifier: naming.dbFinalSnapshotIdentifier(names, self),
  peerRegion: peer.region,
  peerInstanceArn: naming.dbInstanceArn(names, peer),
  peerKmsKeyArn,
  kmsKeyArn: siteKey.keyArn,
  vpcId: network.vpcId,
  subnetIds: network.privateSubnetIds,
  clientSecurityGroupId: cluster.clusterSecurityGroupId,
  adminCidrs: db.manageRoles ? db.adminCidrs : [],
  masterPassword: masterInitialPassword,
  readReplicaIdentifiers: [...Array(db.readReplicas).keys()].map((i) =>
    naming.dbReadReplicaIdentifier(names, self, i),
  ),
  peerLinks: config.peerLinks,
  previousRole: db.previousRole,
  allowRebuild: db.allowRebuild,
  engineVersion: db.engineVersion,
  previousEngineVersion: db.previousEngineVersion,
  allowMajorVersionUpgrade: db.allowMajorVersionUpgrade,
  instanceClass: db.instanceClass,
  allocatedStorageGb: db.allocatedStorageGb,
  maxAllocatedStorageGb: db.maxAllocatedStorageGb,
  backupRetentionDays: db.backupRetentionDays,
  dbName: db.dbName,
  masterUsername: db.masterUsername,
  partition: config.partition,
  tags,
});

// The master credential lives in this site's region, owned by this stack, replicated
// to the peer's. A standby's database is a physical copy of the peer's, so its credentials follow
// the peer's (read from their replicas in this region); a site whose database is its own
// generates them once. Either way, the secret is valid for this site's database whenever that
// database is writable, promotion included, without any call into the peer's region. Each secret
// also names this site's instance (host, port, dbname), so it is written once the instance exists.
const credentialSource = (secretOf: (s: typeof peer) => string) =>
  role === "standby" ? { copyOf: secretOf(peer) } : ("generate" as const);
const connection = { host: database.address, port: database.port, dbname: db.dbName };
const master = new DbCredential(`${stem}-db-master`, {
  region: self.region,
  secretName: naming.dbMasterSecretName(names, self),
  username: db.masterUsername,
  kmsKeyArn: siteKey.keyArn,
  replicaRegion: peer.region,
  source: credentialSource((s) => naming.dbMasterSecretName(names, s)),
  initialPassword: masterInitialPassword,
  connection,
  tags,
});
// The jobs' logins: `backup` dumps as pg_read_all_data (no BYPASSRLS: the RDS master cannot grant
// it; tables with row-level security get a policy for it, docs/first-deployment.md), `app` is the
// application's. Created in PostgreSQL by DbRoles (manageRoles) or by the one-time SQL in
// docs/first-deployment.md; their secrets exist either way.
const logins = Object.fromEntries(
  (["backup", "app"] as const).map((login) => [
    login,
    new DbCredential(`${stem}-db-${login}`, {
      region: self.region,
      secretName: naming.dbLoginSecretName(names, self, login),
      username: login,
      kmsKeyArn: siteKey.keyArn,
      replicaRegion: peer.region,
      source: credentialSource((s) => naming.dbLoginSecretName(names, s, login)),
      connection,
      tags,
    }),
  ]),
) as Record<"backup" | "app", DbCredential>;

const backupRules = config.awsBackup;
const airGapped = backupRules.airGappedVault;
const awsBackup = new AwsBackup(`${stem}-vault`, {
  region: self.region,
  accountId: config.accountId,
  vaultName: naming.backupVaultName(names, self),
  roleName: naming.backupServiceRoleName(names, self),
  kmsKeyArn: siteKey.keyArn,
  // Copies into the peer's region only while peer links are on (docs/architecture.md §2b); into its
  // air-gapped vault when one is configured (both sites have one then, same config).
  copyTargetVaultArn: config.peerLinks
    ? airGapped.enabled
      ? naming.airGappedVaultArn(names, peer)
      : naming.backupVaultArn(names, peer)
    : undefined,
  rules: { daily: backupRules.daily, weekly: backupRules.weekly, monthly: backupRules.monthly },
  // Only the primary is backed up (docs/architecture.md §3); every site keeps its vault for the peer's copies.
  resourceArns: role === "primary" ? [database.instanceArn] : [],
  vaultLock: backupRules.vaultLock.enabled ? backupRules.vaultLock : undefined,
  airGappedVault: airGapped.enabled
    ? {
        name: naming.airGappedVaultName(names, self),
        minRetentionDays: airGapped.minRetentionDays,
        maxRetentionDays: airGapped.maxRetentionDays,
      }
    : undefined,
  breakGlassPrincipalArn: config.breakGlassPrincipalArn,
  partition: config.partition,
  tags,
});

// Logins live in the primary's catalog and replicate to the standby with everything else; only
// the primary can create them, and only from a network the database admits (database.adminCidrs,
// required by config with manageRoles).
if (db.manageRoles && role === "primary") {
  new DbRoles(`${stem}-db-roles`, {
    region: self.region,
    host: database.address,
    port: database.port,
    database: db.dbName,
    masterUsername: db.masterUsername,
    masterSecretArn: master.storedSecretArn,
    logins: [
      { name: "backup", secretArn: logins.backup.storedSecretArn, grants: ["pg_read_all_data"] },
      { name: "app", secretArn: logins.app.storedSecretArn },
    ],
  });
}

// Backups connect as the `backup` login (pg_read_all_data), never as the master (docs/architecture.md §8).
// Its secret exists in every role (DbCredential), and the writer's grant names it by an ARN
// pattern, so the CronJobs and the IAM are the same in every role (docs/architecture.md §2b); the master
// secrets of both sites are denied to every job identity.
const backupLoginSecretName = naming.dbLoginSecretName(names, self, "backup");

// Object Lock: each tier locked at least as long as lifecycle keeps it (config validates);
// the bucket's default retention, the safety net, is the shortest tier's.
const storage = config.storage;
const lock = storage.objectLock;
const lockDays = {
  daily: lock.days.daily ?? storage.retentionDays.daily,
  weekly: lock.days.weekly ?? storage.retentionDays.weekly,
  monthly: lock.days.monthly ?? storage.retentionDays.monthly,
};
// Pre-restore backups carry no retention of their own (an operator's drctl writes them), so the
// default retention is their lock; the config checks it is the shortest (preRestoreLockIssues).
const preRestoreLockDays = lock.days.preRestore ?? storage.retentionDays.preRestore;

// The peer's names come from naming.ts, never from its state (docs/architecture.md §2), so a promoted site can
// point replication back at the old one on its own.
const backupStorage = new BackupStorage(`${stem}-backups`, {
  region: self.region,
  bucketName: naming.backupBucketName(names, self),
  kmsKeyArn: siteKey.keyArn,
  accountId: config.accountId,
  retentionDays: storage.retentionDays,
  noncurrentVersionExpirationDays: storage.noncurrentVersionExpirationDays,
  objectLock: lock.enabled
    ? {
        mode: lock.mode,
        days: Math.min(lockDays.daily, lockDays.weekly, lockDays.monthly, preRestoreLockDays),
      }
    : undefined,
  breakGlassPrincipalArn: config.breakGlassPrincipalArn,
  replication: {
    enabled: replicatesToPeer(role, config.peerLinks),
    roleName: naming.replicationRoleName(names, self, peer),
    destination: {
      bucketArn: naming.backupBucketArn(names, peer),
      region: peer.region,
      kmsAliasArn: naming.kmsAliasArn(names, peer),
      kmsAliasName: naming.kmsAliasName(names, peer),
      kmsKeyArnPattern: naming.kmsKeyArnPattern(names, peer),
    },
    storageClass: storage.replicationStorageClass,
    // The alarms watch S3's replication metrics under this RuleId: one name, both places.
    ruleId: naming.replicationRuleId(self, peer),
  },
  tags,
});

// The role drctl failover reconnect's S3 Batch Replication job runs as, in every role (docs/architecture.md
// §2b): drctl derives its ARN from naming (docs/failover.md).
const batchReplication = new BatchReplicationRole(`${stem}-batch-repl`, {
  roleName: naming.batchReplicationRoleName(names, self),
  accountId: config.accountId,
  region: self.region,
  bucketArn: naming.backupBucketArn(names, self),
  reportPrefix: naming.batchReplicationReportPrefix,
  kmsKeyArn: siteKey.keyArn,
  tags,
});

const backupJobs = new BackupJobs(`${stem}-backup`, {
  region: self.region,
  role,
  provider: cluster.provider,
  oidcProviderArn: cluster.oidcProviderArn,
  oidcIssuer: cluster.oidcIssuer,
  namespace: naming.backupNamespace,
  roleNames: {
    writer: naming.backupJobRoleName(names, self, "writer"),
    reader: naming.backupJobRoleName(names, self, "reader"),
    drill: naming.backupJobRoleName(names, self, "drill"),
  },
  bucketName: naming.backupBucketName(names, self),
  bucketArn: naming.backupBucketArn(names, self),
  kmsKeyArn: siteKey.keyArn,
  metricsNamespace: naming.metricsNamespace,
  vpcCidr: self.config.vpcCidr,
  image: config.jobs.image,
  postgresVersion: config.database.engineVersion,
  scratchImage: config.jobs.scratchImage,
  schedules: config.jobs.schedules,
  timeZone: config.jobs.timeZone,
  databaseName: config.database.dbName,
  databaseHost: database.address,
  databaseSecretArn: logins.backup.secretArn,
  loginSecretArnPattern: naming.secretArnPattern(names, self.region, backupLoginSecretName),
  deniedSecretArnPatterns: [self, peer].map((s) =>
    naming.secretArnPattern(names, "*", naming.dbMasterSecretName(names, s)),
  ),
  objectLock: lock.enabled ? { mode: lock.mode, days: lockDays } : undefined,
  smokeSql: config.jobs.smokeSql,
  // Sized from the database unless set (docs/drill.md): a drill that cannot hold it proves nothing.
  drillScratchStorage:
    config.jobs.drillScratchStorage ??
    `${Math.ceil(db.allocatedStorageGb * config.jobs.drillScratchFactor)}Gi`,
  drillScratchPerformance: {
    iops: config.jobs.drillScratchIops,
    throughputMiBps: config.jobs.drillScratchThroughputMiBps,
  },
  drillDeadlineSeconds: Math.round(config.jobs.drillDeadlineHours * 3600),
  parallelJobs: config.jobs.parallelJobs,
  tags,
});

// Route 53 failover record and health checks, the same in every role (docs/architecture.md §2b):
// the site named by dr-stack:dns.primarySite answers as PRIMARY, the other as SECONDARY, and
// traffic moves when the Region switch plan flips the checks it made, pinned in
// dr-stack:regionSwitch.healthCheckIds (docs/dns-failover.md).
const siteDns = self.config.dns;
const dns =
  config.dns && siteDns
    ? new DnsFailover(`${stem}-dns`, {
        region: self.region,
        failoverType: config.dns.primarySite === self.site ? "PRIMARY" : "SECONDARY",
        regionSwitchHealthCheckId: config.regionSwitch?.healthCheckIds[self.site],
        zoneId: config.dns.zoneId,
        recordName: config.dns.recordName,
        recordType: config.dns.recordType,
        setIdentifier: naming.failoverSetIdentifier(names, self),
        loadBalancer: siteDns.loadBalancer,
        records: siteDns.records,
        ttl: config.dns.ttl,
        healthCheckFqdn: siteDns.healthCheckFqdn,
        healthCheck: config.dns.healthCheck,
        healthMetric: siteDns.healthMetric,
        alarmName: naming.dnsHealthAlarmName(names, self),
        tags,
      })
    : undefined;

// The applications' one place to read their own site's database from (docs/applications.md).
const apps = config.applications;
const appConnection = new AppConnection(`${stem}-app`, {
  provider: cluster.provider,
  namespace: apps.namespace,
  secretName: naming.appDatabaseSecretName,
  host: database.address,
  port: database.port,
  database: db.dbName,
  username: logins.app.username,
  // The secret's current value, so the Secret in the cluster follows a rotation on the next up.
  password: aws.secretsmanager
    .getSecretVersionOutput({ region: self.region, secretId: logins.app.storedSecretArn })
    .secretString.apply((s) => (JSON.parse(s) as { password: string }).password),
});

// The pair's ARC Region switch plan (docs/region-switch.md). Every stack, in every role, declares
// the two functions the plan runs in its region and the access entry that lets the plan scale its
// applications; the owner stack declares the plan and its execution role, the same in every role.
const rs = config.regionSwitch;
const rsFunctions = rs
  ? new RegionSwitchFunctions(`${stem}-rs`, {
      region: self.region,
      accountId: config.accountId,
      functionNames: {
        fence: naming.regionSwitchFunctionName(names, self, "fence"),
        check: naming.regionSwitchFunctionName(names, self, "check"),
      },
      roleName: naming.regionSwitchFunctionRoleName(names, self),
      subnetIds: network.privateSubnetIds,
      securityGroupIds: [cluster.clusterSecurityGroupId],
      dbHost: database.address,
      dbPort: database.port,
      dbName: db.dbName,
      masterSecretName: naming.dbMasterSecretName(names, self),
      masterSecretArnPattern: naming.secretArnPattern(
        names,
        self.region,
        naming.dbMasterSecretName(names, self),
      ),
      kmsKeyArn: siteKey.keyArn,
      smokeSql: config.jobs.smokeSql,
      partition: config.partition,
      tags,
    })
  : undefined;
if (rs) {
  new RegionSwitchAccess(`${stem}-rs-access`, {
    region: self.region,
    clusterName: cluster.clusterName,
    executionRoleArn: naming.regionSwitchRoleArn(names),
    namespace: apps.namespace,
    partition: config.partition,
    tags,
  });
}
const planSites = [self, peer].sort((a, b) => a.site.localeCompare(b.site));
const rsOwner =
  rs && config.dns && rs.ownerSite === self.site ? { rs, dns: config.dns } : undefined;
const rsRole = rsOwner
  ? new RegionSwitchRole(`${stem}-rs-exec`, {
      roleName: naming.regionSwitchRoleName(names),
      accountId: config.accountId,
      sites: planSites.map((s) => ({
        region: s.region,
        dbInstanceArn: naming.dbInstanceArn(names, s),
        clusterArn: naming.clusterArn(names, s),
        functionArns: naming.REGION_SWITCH_FUNCTIONS.map((fn) =>
          naming.regionSwitchFunctionArn(names, s, fn),
        ),
        bucketArn: naming.backupBucketArn(names, s),
        kmsKeyArnPattern: naming.kmsKeyArnPattern(names, s),
        kmsAliasName: naming.kmsAliasName(names, s),
      })),
      zoneId: rsOwner.dns.zoneId,
      reportPrefix: naming.regionSwitchReportPrefix,
      alarmArns: Object.values(rsOwner.rs.trigger?.alarmArns ?? {}),
      partition: config.partition,
      tags,
    })
  : undefined;
const rsPlan = rsOwner
  ? new RegionSwitchPlan(
      `${stem}-rs-plan`,
      {
        planName: naming.regionSwitchPlanName(names),
        executionRoleArn: naming.regionSwitchRoleArn(names),
        accountId: config.accountId,
        sites: planSites.map((s) => ({
          site: s.site,
          region: s.region,
          dbInstanceArn: naming.dbInstanceArn(names, s),
          clusterArn: naming.clusterArn(names, s),
          fenceFunctionArn: naming.regionSwitchFunctionArn(names, s, "fence"),
          checkFunctionArn: naming.regionSwitchFunctionArn(names, s, "check"),
          bucketName: naming.backupBucketName(names, s),
          setIdentifier: naming.failoverSetIdentifier(names, s),
        })),
        primaryRegion: config.sites[rsOwner.dns.primarySite as string].region,
        zoneId: rsOwner.dns.zoneId,
        recordName: rsOwner.dns.recordName,
        applications: apps,
        reportPrefix: naming.regionSwitchReportPrefix,
        recoveryTimeObjectiveMinutes: rsOwner.rs.recoveryTimeObjectiveMinutes,
        trigger: rsOwner.rs.trigger,
        tags,
      },
      // Region switch names the role in the plan; it must exist before the plan is evaluated.
      { dependsOn: rsRole ? [rsRole] : [] },
    )
  : undefined;

// Route 53 publishes health-check metrics in one region only; the alarm on this site's endpoint
// check lives there and pages through the topic of whichever site is in that region (this one's,
// or the peer's, so a site outside it pages from a region that survives its own).
const route53MetricsRegion = ROUTE53_METRICS_REGION[config.partition] as string | undefined;
const endpointHealth =
  dns && route53MetricsRegion && [self.region, peer.region].includes(route53MetricsRegion)
    ? {
        healthCheckId: dns.healthCheckId,
        metricsRegion: route53MetricsRegion,
        peerTopicArn:
          peer.region === route53MetricsRegion ? naming.alarmTopicArn(names, peer) : undefined,
      }
    : undefined;

const backupAlarms = new BackupAlarms(`${stem}-alarms`, {
  region: self.region,
  role,
  topicName: naming.alarmTopicName(names, self),
  kmsKeyArn: siteKey.keyArn,
  alarmPrefix: stem,
  metricsNamespace: naming.metricsNamespace,
  dbInstanceIdentifier: naming.dbInstanceIdentifier(names, self),
  replication: {
    sourceBucket: naming.backupBucketName(names, self),
    destinationBucket: naming.backupBucketName(names, peer),
    ruleId: naming.replicationRuleId(self, peer),
  },
  email: config.alarms.email,
  backupMaxAgeHours: config.alarms.backupMaxAgeHours,
  drillMaxAgeDays: config.alarms.drillMaxAgeDays,
  replicaLagSeconds: config.alarms.replicaLagSeconds,
  endpointHealth,
  tags,
});

// AWS Backup restore testing over this site's vault, in every role (docs/restore-testing.md):
// the DR site proves the copies that landed in its vault. Recovery points there may come from
// either site's database, so both are selected; the check opens each copy with a password it
// sets there, whichever site's it is and however old.
const rt = config.restoreTesting;
const restoreTesting = new RestoreTesting(`${stem}-restore-test`, {
  region: self.region,
  accountId: config.accountId,
  namePrefix: stem,
  // The vaults the peer's copies land in: the air-gapped one too when it is on (copies then go
  // there only), so the DR region never tests an empty vault.
  vaultArns: [
    naming.backupVaultArn(names, self),
    ...(airGapped.enabled ? [naming.airGappedVaultArn(names, self)] : []),
  ],
  // Every RDS recovery point in this site's vault (the plans include only that vault), whichever
  // site's database made it: the wildcard names nothing in the peer region, so the first
  // deployment's step 1 does not reference a database that does not exist yet. "a wildcard:
  // ProtectedResourceArns: ["*"]", AWS Backup API, RestoreTestingSelectionForCreate:
  // https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingSelectionForCreate.html
  protectedResourceArns: ["*"],
  vpcId: network.vpcId,
  subnetIds: network.privateSubnetIds,
  clientSecurityGroupId: cluster.clusterSecurityGroupId,
  tests: { latest: rt.latest, random: rt.random },
  startWindowHours: rt.startWindowHours,
  validationWindowHours: rt.validationWindowHours,
  instanceClass: rt.instanceClass,
  partition: config.partition,
  tags,
});
new RestoreTestCheck(`${stem}-restore-check`, {
  region: self.region,
  role,
  accountId: config.accountId,
  provider: cluster.provider,
  oidcProviderArn: cluster.oidcProviderArn,
  oidcIssuer: cluster.oidcIssuer,
  namespace: backupJobs.namespace,
  namespaceName: naming.backupNamespace,
  image: config.jobs.image,
  planArns: restoreTesting.planArns,
  login: "backup",
  bucketName: naming.backupBucketName(names, self),
  bucketArn: naming.backupBucketArn(names, self),
  kmsKeyArn: siteKey.keyArn,
  metricsNamespace: naming.metricsNamespace,
  databaseName: config.database.dbName,
  smokeSql: config.jobs.smokeSql,
  schedule: rt.checkSchedule,
  timeZone: config.jobs.timeZone,
  partition: config.partition,
  tags,
});
const restoreTestAlarms = new RestoreTestAlarms(`${stem}-restore-alarms`, {
  region: self.region,
  role,
  topicArn: backupAlarms.topicArn,
  alarmPrefix: stem,
  metricsNamespace: naming.metricsNamespace,
  maxAgeDays: rt.maxAgeDays,
  tags,
});

// The point-in-time layer proven monthly in every role, and the data at risk measured in seconds
// (docs/restore-testing.md): both read only this region, so they keep working when the peer's
// region is gone.
const pitrJobs = new PitrJobs(`${stem}-pitr-test`, {
  region: self.region,
  role,
  accountId: config.accountId,
  provider: cluster.provider,
  oidcProviderArn: cluster.oidcProviderArn,
  oidcIssuer: cluster.oidcIssuer,
  namespace: backupJobs.namespace,
  namespaceName: naming.backupNamespace,
  image: config.jobs.image,
  instanceIdentifier: naming.dbInstanceIdentifier(names, self),
  peerInstanceArn: naming.dbInstanceArn(names, peer),
  subnetGroupName: restoreTesting.subnetGroupName,
  securityGroupId: restoreTesting.securityGroupId,
  bucketName: naming.backupBucketName(names, self),
  bucketArn: naming.backupBucketArn(names, self),
  kmsKeyArn: siteKey.keyArn,
  metricsNamespace: naming.metricsNamespace,
  databaseName: config.database.dbName,
  smokeSql: config.jobs.smokeSql,
  instanceClass: rt.instanceClass,
  timeZone: config.jobs.timeZone,
  partition: config.partition,
  tags,
});
new RpoMonitor(`${stem}-rpo`, {
  region: self.region,
  role,
  accountId: config.accountId,
  provider: cluster.provider,
  oidcProviderArn: cluster.oidcProviderArn,
  oidcIssuer: cluster.oidcIssuer,
  namespace: backupJobs.namespace,
  namespaceName: naming.backupNamespace,
  image: config.jobs.image,
  instanceIdentifier: naming.dbInstanceIdentifier(names, self),
  peerInstanceArn: naming.dbInstanceArn(names, peer),
  vaultArns: [
    naming.backupVaultArn(names, self),
    ...(airGapped.enabled ? [naming.airGappedVaultArn(names, self)] : []),
  ],
  databaseHost: database.address,
  databaseName: config.database.dbName,
  databaseSecretArn: logins.backup.secretArn,
  loginSecretArnPattern: naming.secretArnPattern(names, self.region, backupLoginSecretName),
  deniedSecretArnPatterns: [self, peer].map((s) =>
    naming.secretArnPattern(names, "*", naming.dbMasterSecretName(names, s)),
  ),
  kmsKeyArn: siteKey.keyArn,
  metricsNamespace: naming.metricsNamespace,
  partition: config.partition,
  tags,
});
const rpoAlarms = new RpoAlarms(`${stem}-rpo-alarms`, {
  region: self.region,
  role,
  topicArn: backupAlarms.topicArn,
  alarmPrefix: stem,
  metricsNamespace: naming.metricsNamespace,
  vaultName: naming.backupVaultName(names, self),
  tags,
});

// One dashboard of the site's DR signals in its own region: every alarmed metric with its threshold.
const dashboard = new SiteDashboard(`${stem}-dashboard`, {
  region: self.region,
  dashboardName: naming.dashboardName(names, self),
  heading: `# ${stem}: disaster-recovery signals\nSite ${self.site} in ${self.region}. Each graph is an alarmed metric; the line is its alarm's threshold (docs/backup-jobs.md, docs/restore-testing.md).`,
  signals: [...backupAlarms.signals, ...restoreTestAlarms.signals, ...rpoAlarms.signals],
});

export const site = self.site;
export const siteRole = role;
export const region = self.region;
export const peerSite = peer.site;
export const peerRegion = peer.region;
export const kmsKeyArn = siteKey.keyArn;
export const siteKeyPolicyDigest = siteKey.policyDigest;
export const vpcId = network.vpcId;
export const privateSubnetIds = network.privateSubnetIds;
export const clusterName = cluster.clusterName;
export const clusterEndpoint = cluster.endpoint;
export const oidcProviderArn = cluster.oidcProviderArn;
export const kubeconfig = cluster.kubeconfig;
export const dbEndpoint = database.address;
export const dbPort = database.port;
export const dbInstanceArn = database.instanceArn;
export const dbMasterSecretArn = master.secretArn;
export const dbBackupLoginSecretArn = logins.backup.secretArn;
export const dbRole = role;
export const backupVaultArn = awsBackup.vaultArn;
export const restoreTestingPlanArns = restoreTesting.planArns;

export const backupBucketName = backupStorage.bucketName;
export const backupBucketArn = backupStorage.bucketArn;
export const backupRoleArn = backupJobs.roleArn;
export const backupJobRoleArns = backupJobs.roleArns;
export const backupReplicationRoleArn = backupStorage.replicationRoleArn;
export const batchReplicationRoleArn = batchReplication.roleArn;
export const awsBackupRoleArn = awsBackup.roleArn;
export const backupNamespace = backupJobs.namespace;
export const backupCronJobs = backupJobs.cronJobNames;
export const alarmTopicArn = backupAlarms.topicArn;
export const alarmNames = backupAlarms.alarmNames;
export const rpoAlarmNames = rpoAlarms.alarmNames;
export const pitrTestCronJobs = pitrJobs.cronJobNames;
export const dashboardName = dashboard.dashboardName;
export const dnsRecordName = dns?.recordName;
export const dnsFailoverType = dns ? dns.failoverType : "none";
export const healthCheckId = dns?.healthCheckId;
export const recordHealthCheckId = dns?.recordHealthCheckId;
export const appNamespace = appConnection.namespace;
export const appDatabaseSecret = appConnection.secretName;
export const regionSwitchFenceFunctionArn = rsFunctions?.fenceFunctionArn;
export const regionSwitchCheckFunctionArn = rsFunctions?.checkFunctionArn;
export const regionSwitchRoleArn = rsRole?.roleArn;
export const regionSwitchPlanArn = rsPlan?.planArn;
