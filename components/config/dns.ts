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
} from "../dns/rules";
import { NAMESPACE } from "./primitives";

/** The failover DNS keys: `dr-stack:dns` and each site's `dns` (rules in components/dns/rules.ts). */

/** CloudWatch metric behind a private site's health check; defaults in ../dns/rules.ts. */
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

export const siteDns = z.strictObject({
  /** Name Route 53 health checkers probe over HTTPS; omit for a private endpoint. */
  healthCheckFqdn: z.string().optional(),
  /** Private endpoint: the CloudWatch metric whose alarm drives the health check. */
  healthMetric: healthMetricSchema.optional(),
  /** The site's load balancer, for an alias record. */
  loadBalancer: z.strictObject({ dnsName: z.string(), zoneId: z.string() }).optional(),
  /** Record values when there is no load balancer (IP addresses for A, one name for CNAME). */
  records: z.array(z.string()).optional(),
});

export const dnsSchema = z.strictObject({
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

export type DnsConfig = z.infer<typeof dnsSchema>;
export type SiteDnsConfig = z.infer<typeof siteDns>;

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
