/**
 * Pure checks of the failover DNS settings. Config validation (config.ts) and the DnsFailover
 * component run the same rules, so a mistake Route 53 would reject at `pulumi up` (or, worse,
 * accept and then never fail over) is reported before anything is registered. Each rule names
 * its field; the caller decides how a field is spelled in the message (`dr-stack:sites.use1.dns.records`
 * for config, `[records]` for the component).
 */

/** Statistics a Route 53 CLOUDWATCH_METRIC health check accepts: extended (pNN) ones are not. */
export const ALARM_STATISTICS = ["Average", "Minimum", "Maximum", "Sum", "SampleCount"] as const;
export type AlarmStatistic = (typeof ALARM_STATISTICS)[number];

export const ALARM_COMPARISONS = [
  "LessThanThreshold",
  "LessThanOrEqualToThreshold",
  "GreaterThanThreshold",
  "GreaterThanOrEqualToThreshold",
] as const;
export type AlarmComparison = (typeof ALARM_COMPARISONS)[number];

/**
 * The CloudWatch metric that decides whether a private site is healthy. The defaults describe the
 * recommended source, the HealthyHostCount of the internal load balancer in front of the app: its
 * target health checks reach `/healthz` from inside the VPC, where Route 53 checkers cannot.
 */
export interface HealthMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly statistic: AlarmStatistic;
  readonly comparisonOperator: AlarmComparison;
  readonly threshold: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
}

export const HEALTH_METRIC_DEFAULTS = {
  namespace: "AWS/ApplicationELB",
  metricName: "HealthyHostCount",
  dimensions: {},
  // Minimum over the period: one minute with no healthy target at all is an outage.
  statistic: "Minimum",
  comparisonOperator: "LessThanThreshold",
  threshold: 1,
  // Route 53 accepts standard-resolution metrics only, so 60 s is the shortest period.
  periodSeconds: 60,
  // The load balancer's own target health check already needs consecutive failures
  // (UnhealthyThresholdCount), so one bad period is not a single failed probe.
  evaluationPeriods: 1,
} as const satisfies HealthMetric;

/** Defaults of the failover record and its HTTPS health check (also the config defaults). */
export const DNS_DEFAULTS = {
  recordType: "A",
  /** Seconds resolvers may cache an answer: the last term of the DNS part of the RTO. */
  ttl: 60,
  healthCheckPath: "/healthz",
  healthCheckPort: 443,
  /** 10 s ("fast") rather than 30 s: 3 failures are detected in ~30 s instead of ~90 s. */
  requestInterval: 10,
  failureThreshold: 3,
} as const;

/**
 * A Route 53 health check id as Route 53 returns it: a lowercase UUID.
 * https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheck.html
 */
export const HEALTH_CHECK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Why `id` is not a Route 53 health check id, or undefined. */
export function regionSwitchHealthCheckIdError(id: string): string | undefined {
  return HEALTH_CHECK_ID.test(id)
    ? undefined
    : `"${id}" is not a Route 53 health check id (a lowercase UUID such as 0d6ac1a2-3b4c-4d5e-8f60-718293a4b5c6)`;
}

/** Why a site named `primarySite` cannot answer as PRIMARY, or undefined when it can. */
export function primarySiteError(
  primarySite: string | undefined,
  sites: readonly string[],
): string | undefined {
  const list = sites.join(", ");
  if (primarySite === undefined) {
    return (
      `missing; it names the site whose failover record answers as PRIMARY (one of ${list}), fixed ` +
      `whatever the roles are, so that a failover never edits a record. Set the same value in both ` +
      `stacks, usually the site that starts as primary (docs/dns-failover.md)`
    );
  }
  if (!sites.includes(primarySite)) {
    return `"${primarySite}" is not one of the sites (${list}); set it to the site whose record answers as PRIMARY`;
  }
  return undefined;
}

export interface LoadBalancerTarget {
  /** DNS name of the load balancer, e.g. `k8s-app-1234.elb.us-east-1.amazonaws.com`. */
  readonly dnsName: string;
  /** The load balancer's canonical hosted zone id (not the app's zone). */
  readonly zoneId: string;
}

/** The record settings shared by both sites. */
export interface DnsZoneInput {
  readonly zoneId: string;
  readonly recordName: string;
}

/** One site's failover record and health check source, as the rules see them. */
export interface DnsSiteInput {
  readonly recordName: string;
  readonly recordType: "A" | "CNAME";
  /** `undefined` means "not set": only then is an alias record valid. */
  readonly ttl?: number;
  readonly loadBalancer?: LoadBalancerTarget;
  readonly records?: readonly string[];
  readonly healthCheckFqdn?: string;
  readonly healthMetric?: HealthMetric;
}

export type DnsField =
  | "zoneId"
  | "recordName"
  | "recordType"
  | "ttl"
  | "loadBalancer"
  | "loadBalancer.dnsName"
  | "loadBalancer.zoneId"
  | "records"
  | "healthCheckFqdn"
  | "healthMetric"
  | "healthMetric.dimensions"
  | "healthMetric.periodSeconds"
  | "healthMetric.evaluationPeriods";

export interface DnsProblem {
  readonly field: DnsField;
  /** What is wrong and what to do, without the field's own name (the caller prefixes it). */
  readonly message: string;
}

/** How the caller spells a field inside a message. */
export type FieldNamer = (field: DnsField) => string;

/** Route 53 names compare case-insensitively and with or without the final dot. */
export function normalizeDnsName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/**
 * Why `name` is not a fully qualified host name, or undefined when it is one. Route 53 would
 * accept more (escaped octets, wildcards), but a failover record and a health-checked endpoint
 * are always plain host names. https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html
 */
export function dnsNameError(name: string): string | undefined {
  const n = normalizeDnsName(name);
  if (n.length === 0) return "is empty";
  if (n.length > 253) return `is ${n.length} characters long; a DNS name has at most 253`;
  const labels = n.split(".");
  if (labels.length < 2)
    return `"${name}" is not fully qualified; expected a name such as app.example.com`;
  for (const label of labels) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) {
      return `"${name}" has an invalid label "${label}"; labels are 1-63 of a-z, 0-9 and -, not starting or ending with -`;
    }
  }
  return undefined;
}

/** True for a dotted IPv4 address such as 198.51.100.10. */
export function isIpv4(value: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

/** Why `zoneId` is not a bare hosted zone id; `where` says where to find the right one. */
function zoneIdError(zoneId: string, where: string): string | undefined {
  if (/^\/?hostedzone\//i.test(zoneId)) {
    return `"${zoneId}" carries the /hostedzone/ prefix; set the id alone, ${zoneId.replace(/^\/?hostedzone\//i, "")}`;
  }
  if (!/^Z[A-Z0-9]{1,31}$/.test(zoneId)) {
    return `"${zoneId}" is not a Route 53 hosted zone id (Z followed by letters and digits); ${where}`;
  }
  return undefined;
}

/** Rules on the settings both sites share. */
export function dnsZoneProblems(input: DnsZoneInput): DnsProblem[] {
  const problems: DnsProblem[] = [];
  const zone = zoneIdError(
    input.zoneId,
    "copy the Hosted zone ID of the app's zone from the Route 53 console",
  );
  if (zone) problems.push({ field: "zoneId", message: zone });
  const name = dnsNameError(input.recordName);
  if (name) problems.push({ field: "recordName", message: name });
  return problems;
}

/** Rules on one site's record target and health check source. */
export function dnsSiteProblems(input: DnsSiteInput, key: FieldNamer): DnsProblem[] {
  const problems: DnsProblem[] = [];
  const add = (field: DnsField, message: string) => problems.push({ field, message });
  const recordName = normalizeDnsName(input.recordName);

  // Health check source: exactly one of a public name Route 53 probes, or a CloudWatch metric.
  if (input.healthCheckFqdn === undefined && input.healthMetric === undefined) {
    add(
      "healthCheckFqdn",
      `missing, and ${key("healthMetric")} is not set either: the failover record needs a health check. ` +
        `Set ${key("healthCheckFqdn")} to a public name that resolves only to this site (Route 53 probes it over HTTPS), ` +
        `or, for a private endpoint that Route 53 checkers cannot reach, set ${key("healthMetric")} to a CloudWatch metric ` +
        `in the site's region (docs/dns-failover.md, "Private endpoints")`,
    );
  }
  if (input.healthCheckFqdn !== undefined && input.healthMetric !== undefined) {
    add(
      "healthMetric",
      `is set together with ${key("healthCheckFqdn")}; a site is either public (Route 53 probes healthCheckFqdn) ` +
        `or private (a CloudWatch alarm on healthMetric decides): remove one of them`,
    );
  }
  if (input.healthCheckFqdn !== undefined) {
    const err = dnsNameError(input.healthCheckFqdn);
    if (err) add("healthCheckFqdn", err);
    else if (normalizeDnsName(input.healthCheckFqdn) === recordName) {
      add(
        "healthCheckFqdn",
        `is the failover record ${key("recordName")} itself; the checkers would probe whichever site the record ` +
          `answers with, so the check follows the failover instead of driving it. Use a name that resolves only to this site`,
      );
    }
  }
  if (input.healthMetric !== undefined) {
    const m = input.healthMetric;
    if (m.periodSeconds < 60 || m.periodSeconds % 60 !== 0) {
      add(
        "healthMetric.periodSeconds",
        `is ${m.periodSeconds}; Route 53 health checks accept standard-resolution alarms only, so the period ` +
          `must be a multiple of 60 seconds (60, 120, 300, ...)`,
      );
    } else if (m.periodSeconds * m.evaluationPeriods > 86400) {
      add(
        "healthMetric.evaluationPeriods",
        `${m.evaluationPeriods} periods of ${m.periodSeconds} s exceed one day, the longest window a CloudWatch ` +
          `alarm evaluates; lower evaluationPeriods or periodSeconds`,
      );
    }
    const elb = m.namespace === "AWS/ApplicationELB" || m.namespace === "AWS/NetworkELB";
    if (
      elb &&
      m.metricName === "HealthyHostCount" &&
      !(m.dimensions.TargetGroup && m.dimensions.LoadBalancer)
    ) {
      add(
        "healthMetric.dimensions",
        `must name dimensions.TargetGroup (targetgroup/<name>/<id>) and dimensions.LoadBalancer (app/<name>/<id> ` +
          `or net/<name>/<id>): ${m.namespace} publishes HealthyHostCount per target group and load balancer, ` +
          `and an alarm on any other dimension set sees no data`,
      );
    }
  }

  // Record target: an alias to the site's load balancer, or values with a TTL.
  if (input.loadBalancer !== undefined) {
    const lb = input.loadBalancer;
    if (input.ttl !== undefined) {
      add(
        "ttl",
        `is set, but ${key("loadBalancer")} makes an alias record, which takes no TTL (resolvers get the load ` +
          `balancer's own 60 s). Remove ${key("ttl")}, or remove the loadBalancer to publish records with a TTL`,
      );
    }
    if (input.records !== undefined) {
      add(
        "records",
        `is set together with ${key("loadBalancer")}; an alias record has no values of its own. Remove one of them`,
      );
    }
    if (input.recordType === "CNAME") {
      add(
        "recordType",
        `is CNAME, but ${key("loadBalancer")} makes an alias to a load balancer, which must be type A; set ${key("recordType")} to A`,
      );
    }
    const name = dnsNameError(lb.dnsName);
    if (name) add("loadBalancer.dnsName", name);
    const zone = zoneIdError(
      lb.zoneId,
      "use the load balancer's CanonicalHostedZoneId (aws elbv2 describe-load-balancers)",
    );
    if (zone) add("loadBalancer.zoneId", zone);
  } else if (input.records === undefined || input.records.length === 0) {
    add(
      "records",
      `missing; without ${key("loadBalancer")} the failover record needs values (${input.recordType === "A" ? "the site's public IPv4 addresses" : "one host name"}). ` +
        `Set ${key("records")}, or set ${key("loadBalancer")} {dnsName, zoneId} for an alias record`,
    );
  } else if (input.recordType === "A") {
    const bad = input.records.filter((r) => !isIpv4(r));
    if (bad.length > 0) {
      add(
        "records",
        `${bad.map((r) => `"${r}"`).join(", ")} ${bad.length === 1 ? "is not an IPv4 address" : "are not IPv4 addresses"}; ` +
          `an A record holds addresses such as 198.51.100.10 (for a host name, set ${key("recordType")} to CNAME)`,
      );
    }
  } else {
    if (input.records.length > 1) {
      add(
        "records",
        `has ${input.records.length} values, but a CNAME record holds exactly one host name; keep one, or use ` +
          `recordType A with the addresses`,
      );
    } else if (isIpv4(input.records[0])) {
      add(
        "records",
        `"${input.records[0]}" is an IPv4 address, but a CNAME record holds a host name; ` +
          `set ${key("recordType")} to A to publish addresses`,
      );
    } else {
      const err = dnsNameError(input.records[0]);
      if (err) add("records", err);
      else if (normalizeDnsName(input.records[0]) === recordName) {
        add(
          "records",
          `points the CNAME ${key("recordName")} at itself; set the site's own host name`,
        );
      }
    }
  }
  return problems;
}
