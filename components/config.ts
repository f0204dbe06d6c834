import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  ALARM_COMPARISONS,
  ALARM_STATISTICS,
  DNS_DEFAULTS,
  type DnsField,
  dnsSiteProblems,
  dnsZoneProblems,
  HEALTH_METRIC_DEFAULTS,
  normalizeDnsName,
  primarySiteError,
} from "./dnsConfig";
import { awsCronError, cidrsOverlap, cronError, isIanaTimeZone, parseCidr } from "./validation";

/**
 * The whole stack config, validated once by `loadConfig()` before any resource is registered.
 * Components never read config: index.ts hands them the typed values below.
 */

export const ROLES = ["primary", "standby", "promoting", "fenced"] as const;
export type Role = (typeof ROLES)[number];

/** Floors below which a tier's retention would break the monthly-restore promise (DESIGN §4). */
export const RETENTION_FLOORS = { daily: 7, weekly: 28, monthly: 365 } as const;
export const TIERS = ["daily", "weekly", "monthly"] as const;
export type Tier = (typeof TIERS)[number];

/** RDS backup retention floor: a week of point-in-time recovery. */
export const DB_BACKUP_RETENTION_FLOOR = 7;

const region = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, {
  error: "must be an AWS region such as us-east-1",
});

const cidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  error: "must be an IPv4 network in CIDR form such as 10.10.0.0/16 (no host bits set)",
});

const cron = z.string().superRefine((v, ctx) => {
  const err = cronError(v);
  if (err) ctx.addIssue({ code: "custom", message: `malformed cron "${v}": ${err}` });
});

const awsCron = z.string().superRefine((v, ctx) => {
  const err = awsCronError(v);
  if (err) ctx.addIssue({ code: "custom", message: `malformed AWS cron "${v}": ${err}` });
});

/** CloudWatch metric behind a private site's health check; defaults in dnsConfig.ts. */
const healthMetricSchema = z.strictObject({
  namespace: z.string().min(1).default(HEALTH_METRIC_DEFAULTS.namespace),
  metricName: z.string().min(1).default(HEALTH_METRIC_DEFAULTS.metricName),
  dimensions: z.record(z.string(), z.string()).default({}),
  statistic: z.enum(ALARM_STATISTICS).default(HEALTH_METRIC_DEFAULTS.statistic),
  comparisonOperator: z.enum(ALARM_COMPARISONS).default(HEALTH_METRIC_DEFAULTS.comparisonOperator),
  threshold: z.number().default(HEALTH_METRIC_DEFAULTS.threshold),
  periodSeconds: z.number().int().default(HEALTH_METRIC_DEFAULTS.periodSeconds),
  evaluationPeriods: z.number().int().min(1).default(HEALTH_METRIC_DEFAULTS.evaluationPeriods),
});

const siteDns = z.strictObject({
  /** Name Route 53 health checkers probe over HTTPS; omit for a private endpoint. */
  healthCheckFqdn: z.string().optional(),
  /** Private endpoint: the CloudWatch metric whose alarm drives the health check. */
  healthMetric: healthMetricSchema.optional(),
  /** The site's load balancer, for an alias record. */
  loadBalancer: z.strictObject({ dnsName: z.string(), zoneId: z.string() }).optional(),
  /** Record values when there is no load balancer (IP addresses for A, one name for CNAME). */
  records: z.array(z.string()).optional(),
});

const siteSchema = z.strictObject({
  region,
  vpcCidr: cidr,
  /** Availability zones the site's VPC spans. */
  azCount: z.number().int().min(2).max(3).default(3),
  dns: siteDns.optional(),
});

const networkSchema = z
  .strictObject({
    /** `perAz` survives the loss of one AZ; `single` costs one NAT gateway instead of three. */
    natGateways: z.enum(["perAz", "single"]).default("perAz"),
    flowLogRetentionDays: z.number().int().min(1).default(90),
  })
  .prefault({});

const clusterSchema = z
  .strictObject({
    version: z
      .string()
      .regex(/^1\.\d{2}$/, { error: "must be an EKS version such as 1.33" })
      .default("1.33"),
    /** CIDRs allowed to reach the public API endpoint; empty means a private endpoint only. */
    publicAccessCidrs: z.array(cidr).default([]),
    nodeInstanceTypes: z.array(z.string()).min(1).default(["m6i.large"]),
    nodeMinSize: z.number().int().min(1).default(2),
    nodeDesiredSize: z.number().int().min(1).default(2),
    nodeMaxSize: z.number().int().min(1).default(4),
    /** IAM principals granted cluster admin through access entries. */
    adminPrincipalArns: z.array(z.string().startsWith("arn:")).default([]),
  })
  .prefault({});

const databaseSchema = z
  .strictObject({
    engineVersion: z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .default("16"),
    instanceClass: z.string().startsWith("db.").default("db.r6g.large"),
    allocatedStorageGb: z.number().int().min(20).default(100),
    maxAllocatedStorageGb: z.number().int().min(20).default(500),
    backupRetentionDays: z.number().int().max(35).default(14),
    readReplicas: z.number().int().min(0).max(5).default(0),
    /** Lets `pulumi up` replace a protected data instance (failback). Off except during a rebuild. */
    allowRebuild: z.boolean().default(false),
    /**
     * The role deployed by the last successful update, set together with `role` when moving between
     * roles so the move can be checked (components/dbTransition.ts). Unset means "no move".
     */
    previousRole: z.enum(ROLES).optional(),
    /**
     * Replicate the primary's automated backups into the peer region. The replication is created
     * in the peer region, so while that region is down (a failover) set it false.
     */
    replicateBackupsToPeer: z.boolean().default(true),
    /** Create the backup and app roles with @pulumi/postgresql: needs network reach to the primary. */
    manageRoles: z.boolean().default(false),
    dbName: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/)
      .default("app"),
    masterUsername: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,15}$/)
      .default("dradmin"),
  })
  .prefault({});

const backupRule = (schedule: string, deleteAfterDays: number) =>
  z
    .strictObject({
      schedule: awsCron.default(schedule),
      deleteAfterDays: z.number().int().default(deleteAfterDays),
      coldStorageAfterDays: z.number().int().optional(),
    })
    .prefault({});

const awsBackupSchema = z
  .strictObject({
    daily: backupRule("cron(0 2 * * ? *)", 7),
    weekly: backupRule("cron(0 3 ? * SUN *)", 28),
    monthly: backupRule("cron(0 4 1 * ? *)", 365),
    vaultLock: z
      .strictObject({
        changeableForDays: z.number().int().min(3),
        minRetentionDays: z.number().int().min(1).default(7),
        maxRetentionDays: z.number().int().min(1).default(3650),
      })
      .optional(),
  })
  .prefault({});

const storageSchema = z
  .strictObject({
    retentionDays: z
      .strictObject({
        daily: z.number().int().default(7),
        weekly: z.number().int().default(28),
        monthly: z.number().int().default(365),
        reports: z.number().int().min(30).default(365),
      })
      .prefault({}),
    noncurrentVersionExpirationDays: z.number().int().min(1).default(30),
    objectLock: z
      .strictObject({ mode: z.enum(["GOVERNANCE", "COMPLIANCE"]), days: z.number().int().min(1) })
      .optional(),
    replicationStorageClass: z
      .enum(["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"])
      .default("STANDARD"),
    /**
     * Whether a `primary` site replicates its bucket to the peer's. S3 refuses a replication
     * config whose destination bucket does not exist, so a site promoted while the old region is
     * gone sets this to false until the old site's bucket is back (docs/backup-storage.md).
     */
    replicateToPeer: z.boolean().default(true),
  })
  .prefault({});

const jobsSchema = z
  .strictObject({
    /** drctl image; pin a digest (repo@sha256:…) so a tag move cannot change what runs. */
    image: z.string().min(1).default("ghcr.io/dr-stack/drctl:0.1.0"),
    /** IANA zone the CronJob schedules are read in (CronJob `timeZone`, Kubernetes 1.27+). */
    timeZone: z
      .string()
      .refine(isIanaTimeZone, {
        error: "must be an IANA time zone such as Etc/UTC or Europe/Berlin",
      })
      .default("Etc/UTC"),
    schedules: z
      .strictObject({
        daily: cron.default("0 2 * * *"),
        weekly: cron.default("0 3 * * 0"),
        monthly: cron.default("0 4 1 * *"),
        verify: cron.default("30 5 * * *"),
        drill: cron.default("0 6 2 * *"),
        /** `drctl status` publishes the age metrics the backup-age and drill-age alarms read. */
        status: cron.default("15 * * * *"),
      })
      .prefault({}),
    /** Size limit of the drill's scratch PGDATA (emptyDir on the node's disk): the restored database must fit. */
    drillScratchStorage: z
      .string()
      .regex(/^[1-9]\d*(Mi|Gi|Ti)$/, { error: "must be a Kubernetes quantity such as 8Gi" })
      .default("8Gi"),
    /** SQL the drill runs against the restored copy; each must return at least one row. */
    smokeSql: z.array(z.string()).default([]),
  })
  .prefault({});

const alarmsSchema = z
  .strictObject({
    email: z.email().optional(),
    backupMaxAgeHours: z.number().positive().default(26),
    drillMaxAgeDays: z.number().int().positive().default(35),
    replicaLagSeconds: z.number().positive().default(60),
  })
  .prefault({});

const dnsSchema = z.strictObject({
  /**
   * The site whose record answers as PRIMARY, whatever the roles (identical in both stacks). No
   * zod requirement: dnsConfigIssues says what is missing and why (dnsConfig.primarySiteError).
   */
  primarySite: z.string().optional(),
  zoneId: z.string().min(1),
  recordName: z.string().min(1),
  recordType: z.enum(["A", "CNAME"]).default(DNS_DEFAULTS.recordType),
  /**
   * No zod default on purpose: `undefined` after parsing is how "not set" is told apart from an
   * explicit 60, and an explicit TTL next to an alias record is a config error. DnsFailover
   * applies the 60 s default.
   */
  ttl: z.number().int().min(1).optional(),
  healthCheck: z
    .strictObject({
      path: z.string().startsWith("/").default(DNS_DEFAULTS.healthCheckPath),
      port: z.number().int().min(1).max(65535).default(DNS_DEFAULTS.healthCheckPort),
      requestInterval: z
        .union([z.literal(10), z.literal(30)])
        .default(DNS_DEFAULTS.requestInterval),
      failureThreshold: z.number().int().min(1).max(10).default(DNS_DEFAULTS.failureThreshold),
    })
    .prefault({}),
});

type DnsConfig = z.infer<typeof dnsSchema>;
type SiteDnsConfig = z.infer<typeof siteDns>;

/** Where each DNS rule's field lives in the stack config. */
function dnsFieldPath(field: DnsField, site: string): (string | number)[] {
  const shared = ["zoneId", "recordName", "recordType", "ttl"];
  return shared.includes(field) ? ["dns", field] : ["sites", site, "dns", ...field.split(".")];
}

/**
 * The failover DNS rules over both sites (config is shared, so both stacks report the same
 * problems, before the disaster rather than during it).
 */
export function dnsConfigIssues(
  dns: DnsConfig | undefined,
  sites: Record<string, { dns?: SiteDnsConfig }>,
): { path: (string | number)[]; message: string }[] {
  if (dns === undefined) return [];
  const issues: { path: (string | number)[]; message: string }[] = [];
  for (const p of dnsZoneProblems(dns)) issues.push({ path: ["dns", p.field], message: p.message });
  const primary = primarySiteError(dns.primarySite, Object.keys(sites));
  if (primary) issues.push({ path: ["dns", "primarySite"], message: primary });
  const seen = new Map<string, string>();
  for (const [site, { dns: siteDnsConfig }] of Object.entries(sites)) {
    if (siteDnsConfig === undefined) {
      issues.push({
        path: ["sites", site, "dns"],
        message:
          `missing; dr-stack:dns is set, so every site needs its failover record target and health check: ` +
          `set ${NAMESPACE}:sites.${site}.dns.records (or loadBalancer) and ` +
          `${NAMESPACE}:sites.${site}.dns.healthCheckFqdn (or healthMetric)`,
      });
      continue;
    }
    const key = (f: DnsField) => `${NAMESPACE}:${dnsFieldPath(f, site).join(".")}`;
    const problems = dnsSiteProblems(
      {
        recordName: dns.recordName,
        recordType: dns.recordType,
        ttl: dns.ttl,
        ...siteDnsConfig,
      },
      key,
    );
    for (const p of problems)
      issues.push({ path: dnsFieldPath(p.field, site), message: p.message });
    const fqdn = siteDnsConfig.healthCheckFqdn;
    if (fqdn !== undefined) {
      const other = seen.get(normalizeDnsName(fqdn));
      if (other !== undefined) {
        issues.push({
          path: ["sites", site, "dns", "healthCheckFqdn"],
          message:
            `is also ${other}'s health check name; each site's check must probe that site alone, ` +
            `or both records share one health status and failover never happens`,
        });
      }
      seen.set(normalizeDnsName(fqdn), site);
    }
  }
  return issues;
}

export const configSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]{1,19}$/, {
      error: "must be 2-20 characters of a-z, 0-9 and -, starting with a letter",
    }),
    accountId: z.string().regex(/^\d{12}$/, { error: "must be a 12-digit AWS account id" }),
    partition: z.enum(["aws", "aws-us-gov", "aws-cn"]).default("aws"),
    site: z.string(),
    role: z.enum(ROLES),
    sites: z.record(
      z
        .string()
        .regex(/^[a-z][a-z0-9]{1,9}$/, { error: "site names are 2-10 characters of a-z, 0-9" }),
      siteSchema,
    ),
    network: networkSchema,
    cluster: clusterSchema,
    database: databaseSchema,
    awsBackup: awsBackupSchema,
    storage: storageSchema,
    jobs: jobsSchema,
    alarms: alarmsSchema,
    dns: dnsSchema.optional(),
    tags: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((c, ctx) => {
    const add = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: "custom", path, message });
    const names = Object.keys(c.sites);
    if (names.length !== 2) {
      add(["sites"], `must name exactly two sites (this one and its peer), got ${names.length}`);
    }
    if (!(c.site in c.sites)) {
      add(
        ["site"],
        `"${c.site}" is not in sites (${names.join(", ") || "none"}); add it or fix the name`,
      );
    }
    if (names.length === 2) {
      const [a, b] = names.map((n) => c.sites[n]);
      if (a.region === b.region) {
        add(["sites"], `both sites are in ${a.region}; the DR site must be in another region`);
      }
      if (cidrsOverlap(a.vpcCidr, b.vpcCidr)) {
        add(
          ["sites", names[1], "vpcCidr"],
          `${b.vpcCidr} overlaps ${names[0]}'s ${a.vpcCidr}; give each site its own range so they can be peered`,
        );
      }
    }
    for (const tier of TIERS) {
      const floor = RETENTION_FLOORS[tier];
      if (c.storage.retentionDays[tier] < floor) {
        add(
          ["storage", "retentionDays", tier],
          `${tier} retention must be at least ${floor} days, got ${c.storage.retentionDays[tier]}`,
        );
      }
      const rule = c.awsBackup[tier];
      if (rule.deleteAfterDays < floor) {
        add(
          ["awsBackup", tier, "deleteAfterDays"],
          `${tier} rule must keep recovery points at least ${floor} days, got ${rule.deleteAfterDays}`,
        );
      }
      if (rule.coldStorageAfterDays !== undefined) {
        // AWS Backup: cold storage needs >= 30 days in warm first and >= 90 days in cold.
        // https://docs.aws.amazon.com/aws-backup/latest/devguide/plan-options-and-configuration.html
        if (rule.coldStorageAfterDays < 30) {
          add(
            ["awsBackup", tier, "coldStorageAfterDays"],
            `${tier} rule moves to cold storage after ${rule.coldStorageAfterDays} days; the minimum is 30`,
          );
        }
        if (rule.deleteAfterDays < rule.coldStorageAfterDays + 90) {
          add(
            ["awsBackup", tier, "deleteAfterDays"],
            `${tier} rule deletes after ${rule.deleteAfterDays} days but must keep cold copies 90 days: ` +
              `expected at least ${rule.coldStorageAfterDays + 90}`,
          );
        }
      }
    }
    if (c.database.backupRetentionDays < DB_BACKUP_RETENTION_FLOOR) {
      add(
        ["database", "backupRetentionDays"],
        `must be at least ${DB_BACKUP_RETENTION_FLOOR}, got ${c.database.backupRetentionDays}`,
      );
    }
    if (c.database.maxAllocatedStorageGb < c.database.allocatedStorageGb) {
      add(["database", "maxAllocatedStorageGb"], `must be at least allocatedStorageGb`);
    }
    const { nodeMinSize, nodeDesiredSize, nodeMaxSize } = c.cluster;
    if (!(nodeMinSize <= nodeDesiredSize && nodeDesiredSize <= nodeMaxSize)) {
      add(
        ["cluster"],
        `node sizes must satisfy min <= desired <= max, got ${nodeMinSize}/${nodeDesiredSize}/${nodeMaxSize}`,
      );
    }
    const lock = c.awsBackup.vaultLock;
    if (lock && lock.minRetentionDays > lock.maxRetentionDays) {
      add(["awsBackup", "vaultLock", "minRetentionDays"], `must not exceed maxRetentionDays`);
    }
    // A locked vault rejects recovery points whose retention falls outside [min, max], so every
    // rule (and its copy into the peer's vault, locked by the same config) must fit inside.
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
    if (lock) {
      for (const tier of TIERS) {
        const days = c.awsBackup[tier].deleteAfterDays;
        if (days < lock.minRetentionDays || days > lock.maxRetentionDays) {
          add(
            ["awsBackup", tier, "deleteAfterDays"],
            `${tier} rule keeps recovery points ${days} days, outside the vault lock's ` +
              `${lock.minRetentionDays}-${lock.maxRetentionDays} days; the locked vault would reject them`,
          );
        }
      }
    }
    for (const issue of dnsConfigIssues(c.dns, c.sites)) add(issue.path, issue.message);
  });

export type StackConfig = z.infer<typeof configSchema>;
export type SiteConfig = StackConfig["sites"][string];

/** The resolved view of config that components get: this site, its peer, and everything else. */
export interface Site {
  readonly site: string;
  readonly region: string;
  readonly config: SiteConfig;
}

export interface ResolvedConfig extends StackConfig {
  readonly self: Site;
  readonly peer: Site;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        `\nFix these with \`pulumi config set --path dr-stack:<key> <value>\` or in Pulumi.<stack>.yaml; ` +
        `every key is documented in Pulumi.yaml.`,
    );
    this.name = "ConfigError";
  }
}

const NAMESPACE = "dr-stack";

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = [NAMESPACE + ":" + (issue.path[0]?.toString() ?? ""), ...issue.path.slice(1)].join(
    ".",
  );
  const got = "input" in issue ? issue.input : undefined;
  switch (issue.code) {
    case "invalid_value":
      return `${key}: ${JSON.stringify(got)} is not allowed; expected one of ${issue.values.map(String).join(", ")}`;
    case "unrecognized_keys":
      return `${key === NAMESPACE + ":" ? NAMESPACE : key}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}; check the spelling against Pulumi.yaml`;
    case "invalid_type":
      return got === undefined
        ? `${key}: missing; expected ${issue.expected}`
        : `${key}: expected ${issue.expected}, got ${JSON.stringify(got)}`;
    default:
      return `${key}: ${issue.message}${got !== undefined && issue.code !== "custom" ? ` (got ${JSON.stringify(got)})` : ""}`;
  }
}

/** Validates raw config (keys without the `dr-stack:` prefix). Throws one ConfigError listing every problem. */
export function parseConfig(raw: Record<string, unknown>): ResolvedConfig {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(result.error.issues.map(describeIssue));
  const c = result.data;
  const peerName = Object.keys(c.sites).find((s) => s !== c.site) as string;
  const site = (name: string): Site => ({
    site: name,
    region: c.sites[name].region,
    config: c.sites[name],
  });
  return { ...c, self: site(c.site), peer: site(peerName) };
}

/** Reads every `dr-stack:*` key of the running stack. Structured values arrive as JSON text. */
export function rawStackConfig(
  all: Record<string, string> = pulumi.runtime.allConfig(),
): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
    const key = fullKey.slice(NAMESPACE.length + 1);
    let parsed: unknown = value;
    if (/^\s*[[{]/.test(value)) {
      try {
        parsed = JSON.parse(value);
      } catch {
        parsed = value;
      }
    }
    raw[key] = parsed;
  }
  return raw;
}

/** Reads and validates the stack config once; index.ts calls this before registering anything. */
export function loadConfig(): ResolvedConfig {
  return parseConfig(rawStackConfig());
}
