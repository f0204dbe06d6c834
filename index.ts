/**
 * dr-stack: one site of the two-region warm-standby DR stack. Both stacks (Pulumi.primary.yaml,
 * Pulumi.dr.yaml) run this program; the config says which site this is and its role.
 */
import { BackupAlarms } from "./components/backupAlarms";
import { BackupJobs } from "./components/backupJobs";
import { Cluster } from "./components/cluster";
import { loadConfig } from "./components/config";
import { DnsFailover } from "./components/dnsFailover";
import * as naming from "./components/naming";
import { Network } from "./components/network";
import { SiteKey } from "./components/siteKey";

const config = loadConfig();
const { self, peer, role } = config;
const names = { name: config.name, accountId: config.accountId, partition: config.partition };
const stem = naming.siteStem(names, self);
const tags = { ...config.tags, "dr-stack:site": self.site, "dr-stack:project": config.name };

const siteKey = new SiteKey(`${stem}-key`, {
  region: self.region,
  accountId: config.accountId,
  partition: config.partition,
  aliasName: naming.kmsAliasName(names, self),
  tags,
});

const network = new Network(`${stem}-net`, {
  region: self.region,
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
  privateSubnetIds: network.privateSubnetIds,
  kmsKeyArn: siteKey.keyArn,
  publicAccessCidrs: config.cluster.publicAccessCidrs,
  adminPrincipalArns: config.cluster.adminPrincipalArns,
  nodeInstanceTypes: config.cluster.nodeInstanceTypes,
  nodeMinSize: config.cluster.nodeMinSize,
  nodeDesiredSize: config.cluster.nodeDesiredSize,
  nodeMaxSize: config.cluster.nodeMaxSize,
  tags,
});

// Database host and backup-role secret come from the data tier; until it is composed here the
// backup CronJobs get neither (BackupJobs leaves out PGHOST, DRCTL_DB_SECRET_ARN and the
// secretsmanager:GetSecretValue grant), and the drill, verify and status jobs need neither.
const backupJobs = new BackupJobs(`${stem}-backup`, {
  region: self.region,
  role,
  provider: cluster.provider,
  oidcProviderArn: cluster.oidcProviderArn,
  oidcIssuer: cluster.oidcIssuer,
  namespace: naming.backupNamespace,
  serviceAccount: naming.backupServiceAccount,
  bucketName: naming.backupBucketName(names, self),
  bucketArn: naming.backupBucketArn(names, self),
  kmsKeyArn: siteKey.keyArn,
  metricsNamespace: naming.metricsNamespace,
  vpcCidr: self.config.vpcCidr,
  image: config.jobs.image,
  postgresVersion: config.database.engineVersion,
  schedules: config.jobs.schedules,
  timeZone: config.jobs.timeZone,
  databaseName: config.database.dbName,
  smokeSql: config.jobs.smokeSql,
  drillScratchStorage: config.jobs.drillScratchStorage,
  tags,
});

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
  tags,
});

// Route 53 failover record and health check: PRIMARY on the primary, SECONDARY on a standby or
// promoting site, no record on a fenced one (docs/dns-failover.md).
const siteDns = self.config.dns;
const dns =
  config.dns && siteDns
    ? new DnsFailover(`${stem}-dns`, {
        region: self.region,
        role,
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

export const site = self.site;
export const siteRole = role;
export const region = self.region;
export const peerSite = peer.site;
export const peerRegion = peer.region;
export const kmsKeyArn = siteKey.keyArn;
export const vpcId = network.vpcId;
export const privateSubnetIds = network.privateSubnetIds;
export const clusterName = cluster.clusterName;
export const clusterEndpoint = cluster.endpoint;
export const oidcProviderArn = cluster.oidcProviderArn;
export const kubeconfig = cluster.kubeconfig;
export const backupRoleArn = backupJobs.roleArn;
export const backupNamespace = backupJobs.namespace;
export const backupCronJobs = backupJobs.cronJobNames;
export const alarmTopicArn = backupAlarms.topicArn;
export const alarmNames = backupAlarms.alarmNames;

export const dnsRecordName = dns?.recordName;
export const dnsFailoverRole = dns ? dns.failoverRole : "none";
export const healthCheckId = dns?.healthCheckId;
