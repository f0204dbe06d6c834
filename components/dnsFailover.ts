import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Role } from "./config";
import {
  DNS_DEFAULTS,
  type DnsField,
  dnsSiteProblems,
  dnsZoneProblems,
  HEALTH_METRIC_DEFAULTS,
  type HealthMetric,
  type LoadBalancerTarget,
} from "./dnsConfig";

/** The Route 53 failover type a site's record carries, or "none" when it has no record. */
export type FailoverRole = "PRIMARY" | "SECONDARY" | "none";

/**
 * DESIGN §3: the primary answers first; standby and promoting sites are the SECONDARY (a promoting
 * site's database is detached but not yet configured as a primary, so it must not take the
 * PRIMARY slot); a fenced site publishes nothing, so a returning old region can never draw traffic.
 */
export function failoverRoleFor(role: Role): FailoverRole {
  switch (role) {
    case "primary":
      return "PRIMARY";
    case "standby":
    case "promoting":
      return "SECONDARY";
    case "fenced":
      return "none";
  }
}

/** Settings of the HTTPS health check of a public endpoint. */
export interface DnsHealthCheckSettings {
  /**
   * Path the checkers request; 2xx or 3xx within 2 s of connecting is healthy.
   * @default "/healthz"
   */
  readonly path?: string;
  /** @default 443 */
  readonly port?: number;
  /** Seconds between one checker's requests: 10 ("fast") or 30. @default 10 */
  readonly requestInterval?: 10 | 30;
  /** Consecutive failures (or successes) that flip one checker's view. @default 3 */
  readonly failureThreshold?: number;
}

/** The CloudWatch metric behind a private endpoint's health check (see HealthMetric). */
export type DnsHealthMetricArgs = Partial<HealthMetric>;

export interface DnsFailoverArgs {
  /** The site's region: the CloudWatch alarm of a private endpoint lives there. */
  readonly region: string;
  /** The site's role; it decides the record's failover type (failoverRoleFor). */
  readonly role: Role;
  /** Hosted zone that holds the failover record, shared by both sites. */
  readonly zoneId: string;
  /** The name clients resolve, shared by both sites, e.g. `app.acme-dr.example.com`. */
  readonly recordName: string;
  /** @default "A" */
  readonly recordType?: "A" | "CNAME";
  /** Distinguishes this site's record from the peer's (naming.failoverSetIdentifier). */
  readonly setIdentifier: string;
  /** Alias the record to this load balancer. @default undefined: a record with `records` and `ttl` */
  readonly loadBalancer?: LoadBalancerTarget;
  /**
   * Record values without a load balancer: IPv4 addresses (A) or one host name (CNAME).
   * @default undefined
   */
  readonly records?: readonly string[];
  /** Seconds resolvers cache a non-alias answer; must stay unset with `loadBalancer`. @default 60 */
  readonly ttl?: number;
  /**
   * Public endpoint: a name that resolves to this site only, probed over HTTPS.
   * @default undefined
   */
  readonly healthCheckFqdn?: string;
  /** HTTPS health check settings (public endpoint). @default {} (the defaults above) */
  readonly healthCheck?: DnsHealthCheckSettings;
  /**
   * Private endpoint: the metric whose alarm drives a CLOUDWATCH_METRIC check.
   * @default undefined
   */
  readonly healthMetric?: DnsHealthMetricArgs;
  /** Name of the CloudWatch alarm (private endpoint). @default autonamed from `name` */
  readonly alarmName?: string;
  /** Tags for the health check and alarm. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * Every problem with `args`, each naming its argument (`[records] ...`). The same rules as the
 * config validation, so a component used on its own cannot hand Route 53 an invalid record.
 */
export function dnsFailoverArgsProblems(args: DnsFailoverArgs): string[] {
  const key = (f: DnsField) => `[${f}]`;
  const metric =
    args.healthMetric === undefined
      ? undefined
      : { ...HEALTH_METRIC_DEFAULTS, ...args.healthMetric };
  const problems = [
    ...dnsZoneProblems(args),
    ...dnsSiteProblems(
      {
        recordName: args.recordName,
        recordType: args.recordType ?? DNS_DEFAULTS.recordType,
        ttl: args.ttl,
        loadBalancer: args.loadBalancer,
        records: args.records,
        healthCheckFqdn: args.healthCheckFqdn,
        healthMetric: metric,
      },
      key,
    ),
  ];
  return problems.map((p) => `${key(p.field)} ${p.message}`);
}

/**
 * One site's half of the Route 53 failover pair: a health check (HTTPS on the site's public name,
 * or a CloudWatch alarm for a private endpoint) and a failover record whose type follows the
 * site's role. Route 53 is global: the record and health check take no `region`; only the alarm
 * does. Docs: docs/dns-failover.md.
 */
export class DnsFailover extends pulumi.ComponentResource {
  public readonly recordName: pulumi.Output<string>;
  public readonly failoverRole: pulumi.Output<FailoverRole>;
  public readonly healthCheckId: pulumi.Output<string>;
  public readonly healthAlarmName: pulumi.Output<string | undefined>;

  constructor(name: string, args: DnsFailoverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:dns:DnsFailover", name, {}, opts);
    const problems = dnsFailoverArgsProblems(args);
    if (problems.length > 0) {
      throw new Error(`DnsFailover ${name}: invalid arguments:\n  - ${problems.join("\n  - ")}`);
    }

    const recordType = args.recordType ?? DNS_DEFAULTS.recordType;
    const ttl = args.ttl ?? DNS_DEFAULTS.ttl;
    const tags = args.tags ?? {};
    const hc = args.healthCheck ?? {};
    const path = hc.path ?? DNS_DEFAULTS.healthCheckPath;
    const port = hc.port ?? DNS_DEFAULTS.healthCheckPort;
    const requestInterval = hc.requestInterval ?? DNS_DEFAULTS.requestInterval;
    const failureThreshold = hc.failureThreshold ?? DNS_DEFAULTS.failureThreshold;
    const failoverRole = failoverRoleFor(args.role);
    // The console lists health checks by their Name tag.
    const checkTags = { ...tags, Name: `${args.setIdentifier} ${args.recordName}` };

    let healthCheck: aws.route53.HealthCheck;
    let alarm: aws.cloudwatch.MetricAlarm | undefined;
    if (args.healthCheckFqdn !== undefined) {
      // https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
      // Each checker marks the endpoint down after `failureThreshold` consecutive failures, one
      // request every `requestInterval` s (10 × 3 = ~30 s); the check is unhealthy once 18% or
      // fewer of the checkers still see it up. Checker regions stay at the default (all eight)
      // so one region's network trouble cannot fail the site over.
      healthCheck = new aws.route53.HealthCheck(
        `${name}-health`,
        {
          type: "HTTPS",
          fqdn: args.healthCheckFqdn,
          resourcePath: path,
          port,
          requestInterval,
          failureThreshold,
          // Latency graphs per checker region: the first sign of a degrading region. It cannot be
          // changed after creation, so it is on from the start.
          measureLatency: true,
          tags: checkTags,
        },
        { parent: this },
      );
    } else {
      const m: HealthMetric = { ...HEALTH_METRIC_DEFAULTS, ...args.healthMetric };
      alarm = new aws.cloudwatch.MetricAlarm(
        `${name}-alarm`,
        {
          region: args.region,
          name: args.alarmName,
          alarmDescription:
            `Health of ${args.setIdentifier} behind the Route 53 failover record ${args.recordName}: ` +
            `ALARM makes its health check unhealthy (docs/dns-failover.md).`,
          namespace: m.namespace,
          metricName: m.metricName,
          dimensions: { ...m.dimensions },
          statistic: m.statistic,
          comparisonOperator: m.comparisonOperator,
          threshold: m.threshold,
          period: m.periodSeconds,
          evaluationPeriods: m.evaluationPeriods,
          datapointsToAlarm: m.evaluationPeriods,
          // A site that stops publishing (load balancer gone, region dark) is down, not unknown.
          treatMissingData: "breaching",
          tags,
        },
        { parent: this },
      );
      healthCheck = new aws.route53.HealthCheck(
        `${name}-health`,
        {
          type: "CLOUDWATCH_METRIC",
          cloudwatchAlarmName: alarm.name,
          cloudwatchAlarmRegion: args.region,
          // When the site's region goes dark its metrics stop. "LastKnownStatus" would then keep
          // the check healthy (and a new check starts healthy) — traffic would stay on a dead
          // primary in exactly the disaster this exists for. "Unhealthy" fails over instead; a
          // false alarm costs a few minutes of read-only service from the standby, never a
          // split brain, because DNS never promotes the database (docs/dns-failover.md).
          // https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
          insufficientDataHealthStatus: "Unhealthy",
          // Route 53 copies the alarm's configuration when the check is created; a changed
          // threshold or metric must be pushed to the check again.
          triggers: { metric: JSON.stringify(m) },
          tags: checkTags,
        },
        { parent: this },
      );
    }

    // A fenced site keeps its health check (only the record goes): the check shows when the old
    // region answers again before a failback, and its id survives fenced → standby.
    if (failoverRole !== "none") {
      const alias = args.loadBalancer;
      new aws.route53.Record(
        `${name}-record`,
        {
          zoneId: args.zoneId,
          name: args.recordName,
          type: recordType,
          setIdentifier: args.setIdentifier,
          failoverRoutingPolicies: [{ type: failoverRole }],
          // The SECONDARY carries its own check too: if both sites are unhealthy Route 53 answers
          // with the PRIMARY instead of a standby that is down as well, and the check stays the
          // same resource when promotion turns this record into the PRIMARY.
          // https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html
          healthCheckId: healthCheck.id,
          ...(alias
            ? {
                // Alias records take the target's TTL (60 s for a load balancer). Failover alias
                // records must evaluate target health: no healthy target behind the load
                // balancer also counts as down.
                aliases: [
                  { name: alias.dnsName, zoneId: alias.zoneId, evaluateTargetHealth: true },
                ],
              }
            : { records: [...(args.records ?? [])], ttl }),
          // Never take over a record this stack did not create (e.g. the peer's).
          allowOverwrite: false,
        },
        { parent: this },
      );
    }

    this.recordName = pulumi.output(args.recordName);
    this.failoverRole = pulumi.output(failoverRole);
    this.healthCheckId = healthCheck.id;
    this.healthAlarmName = alarm ? alarm.name : pulumi.output(undefined);
    this.registerOutputs({
      recordName: this.recordName,
      failoverRole: this.failoverRole,
      healthCheckId: this.healthCheckId,
      healthAlarmName: this.healthAlarmName,
    });
  }
}
