import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  DNS_DEFAULTS,
  type DnsField,
  dnsSiteProblems,
  dnsZoneProblems,
  HEALTH_METRIC_DEFAULTS,
  type HealthMetric,
  type LoadBalancerTarget,
  regionSwitchHealthCheckIdError,
} from "./rules";

/** The Route 53 failover type of a site's record: fixed by config, never by the site's role. */
export type FailoverType = "PRIMARY" | "SECONDARY";

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
  /** PRIMARY for the site `dr-stack:dns.primarySite` names, SECONDARY for the other. */
  readonly failoverType: FailoverType;
  /**
   * The Route 53 health check ARC Region switch made for this site's region
   * (dr-stack:regionSwitch.healthCheckIds), the only check the record carries.
   * @default undefined: the record is not created until the id is pinned (docs/first-deployment.md)
   */
  readonly regionSwitchHealthCheckId?: string;
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
  const messages = problems.map((p) => `${key(p.field)} ${p.message}`);
  if (args.regionSwitchHealthCheckId !== undefined) {
    const err = regionSwitchHealthCheckIdError(args.regionSwitchHealthCheckId);
    if (err) messages.push(`[regionSwitchHealthCheckId] ${err}`);
  }
  return messages;
}

/**
 * One site's half of the Route 53 failover pair, fixed in every role (docs/architecture.md §2b):
 * an endpoint health check (HTTPS on the site's own name, or a CloudWatch alarm in the site's own
 * region for a private endpoint), which the alarms watch, and the failover record, gated by the
 * health check ARC Region switch made for this site's region and nothing else. Traffic moves when
 * the plan runs: Region switch flips those checks from the region it activates, through Route 53's
 * data plane; nothing here changes. The record does not carry the endpoint check: a site being
 * promoted fails its own endpoint while its database reboots, and an unhealthy SECONDARY makes
 * Route 53 answer with the PRIMARY, the region just left (docs/dns-failover.md).
 * Route 53 is global: the record and health checks take no `region`; only the alarm does.
 */
export class DnsFailover extends pulumi.ComponentResource {
  public readonly recordName: pulumi.Output<string>;
  public readonly failoverType: pulumi.Output<FailoverType>;
  /** The endpoint check: what the site's own health looks like to Route 53 (alarms watch it). */
  public readonly healthCheckId: pulumi.Output<string>;
  /** The Region switch check the record carries; undefined until pinned (no record yet). */
  public readonly recordHealthCheckId: pulumi.Output<string | undefined>;
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
    // The console lists health checks by their Name tag.
    const label = `${args.setIdentifier} ${args.recordName}`;
    const checkTags = (what: string) => ({ ...tags, Name: `${label}${what}` });

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
          tags: checkTags(""),
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
          // This alarm lives in the site's own region: when that region goes dark its metrics
          // stop, and "LastKnownStatus" would keep the check healthy — traffic would stay on a dead
          // site in exactly the disaster this exists for. "Unhealthy" fails over instead.
          // https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
          insufficientDataHealthStatus: "Unhealthy",
          // Route 53 copies the alarm's configuration when the check is created; a changed
          // threshold or metric must be pushed to the check again.
          triggers: { metric: JSON.stringify(m) },
          tags: checkTags(""),
        },
        { parent: this },
      );
    }

    const alias = args.loadBalancer;
    const rsCheck = args.regionSwitchHealthCheckId;
    if (rsCheck !== undefined) {
      new aws.route53.Record(
        `${name}-record`,
        {
          zoneId: args.zoneId,
          name: args.recordName,
          type: recordType,
          setIdentifier: args.setIdentifier,
          failoverRoutingPolicies: [{ type: args.failoverType }],
          // Both records carry their region's Region switch check: in an active/passive plan one is
          // healthy and the other not, flipped by the plan ("How the Route 53 health check
          // execution block works", https://docs.aws.amazon.com/r53recovery/latest/dg/route53-health-check-block.html).
          healthCheckId: rsCheck,
          ...(alias
            ? {
                // Alias records take the target's TTL (60 s for a load balancer). Target health is
                // not evaluated: it would make the record follow the load balancer's targets, which
                // fail while the promoted database reboots, and send clients back to the region
                // just left; the record follows the plan's check alone.
                // https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html
                aliases: [
                  { name: alias.dnsName, zoneId: alias.zoneId, evaluateTargetHealth: false },
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
    this.failoverType = pulumi.output(args.failoverType);
    this.healthCheckId = healthCheck.id;
    this.recordHealthCheckId = pulumi.output(rsCheck);
    this.healthAlarmName = alarm ? alarm.name : pulumi.output(undefined);
    this.registerOutputs({
      recordName: this.recordName,
      failoverType: this.failoverType,
      healthCheckId: this.healthCheckId,
      recordHealthCheckId: this.recordHealthCheckId,
      healthAlarmName: this.healthAlarmName,
    });
  }
}
