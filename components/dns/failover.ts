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
  TRAFFIC_CONTROL_ALARM,
} from "./rules";

/** The Route 53 failover type of a site's record: fixed by config, never by the site's role. */
export type FailoverType = "PRIMARY" | "SECONDARY";

/**
 * Where the site's traffic control lives (contract C3): an alarm in the **peer's** region on the
 * metric drctl publishes there. Both names come from naming.ts, so drctl needs no stack output.
 */
export interface TrafficControlArgs {
  /** The peer's region: drctl can publish there while this site's own region is down. */
  readonly region: string;
  /** naming.trafficControlAlarmName of this site. */
  readonly alarmName: string;
  /** CloudWatch namespace drctl publishes into (naming.trafficControl.namespace). */
  readonly namespace: string;
  /** naming.trafficControl.metricName. */
  readonly metricName: string;
  /** The one dimension, e.g. `{ Site: "use1" }`. */
  readonly dimensions: Readonly<Record<string, string>>;
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
  /** PRIMARY for the site `dr-stack:dns.primarySite` names, SECONDARY for the other. */
  readonly failoverType: FailoverType;
  /** The data-plane switch that gates the record (contract C3). */
  readonly trafficControl: TrafficControlArgs;
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
  const tc = args.trafficControl;
  if (tc.region === args.region) {
    messages.push(
      `[trafficControl.region] is ${tc.region}, the site's own region; the control must live in the ` +
        `peer's region, so that drctl can switch this site off while its region is down`,
    );
  }
  // PutMetricAlarm: AlarmName is 1-255 characters.
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
  if (tc.alarmName.length === 0 || tc.alarmName.length > 255) {
    messages.push(
      `[trafficControl.alarmName] is ${tc.alarmName.length} characters long; a CloudWatch alarm name has 1-255`,
    );
  }
  return messages;
}

/**
 * One site's half of the Route 53 failover pair, fixed in every role (DESIGN §2b): an endpoint
 * health check (HTTPS on the site's own name, or a CloudWatch alarm for a private endpoint), the
 * traffic-control alarm in the peer's region with a health check on it, a CALCULATED check that is
 * healthy only while both are, and the failover record gated by that check. A failover moves
 * traffic by health alone: drctl flips the control from the surviving region, nothing here changes.
 * Route 53 is global: the record and health checks take no `region`; only the alarms do.
 * Docs: docs/dns-failover.md.
 */
export class DnsFailover extends pulumi.ComponentResource {
  public readonly recordName: pulumi.Output<string>;
  public readonly failoverType: pulumi.Output<FailoverType>;
  /** The endpoint check: what the site's own health looks like to Route 53. */
  public readonly healthCheckId: pulumi.Output<string>;
  /** The check on the traffic-control alarm. */
  public readonly trafficHealthCheckId: pulumi.Output<string>;
  /** The CALCULATED check the record uses. */
  public readonly recordHealthCheckId: pulumi.Output<string>;
  public readonly healthAlarmName: pulumi.Output<string | undefined>;
  public readonly trafficControlAlarmName: pulumi.Output<string>;

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

    // The traffic control (contract C3). It lives in the peer's region and is owned by this
    // site's stack, so the alarm exists before the check that names it (Route 53 keeps a copy of
    // the alarm's configuration) without waiting for the peer's stack, and nothing of it depends
    // on any role: no transition of either stack ever touches it.
    const tc = args.trafficControl;
    const t = TRAFFIC_CONTROL_ALARM;
    const trafficAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-traffic-alarm`,
      {
        region: tc.region,
        name: tc.alarmName,
        alarmDescription:
          `Traffic control of ${args.setIdentifier}: ALARM while drctl has switched it off ` +
          `(${tc.metricName} 0 in ${tc.region}); its Route 53 record then stops answering ` +
          `(docs/dns-failover.md).`,
        namespace: tc.namespace,
        metricName: tc.metricName,
        dimensions: { ...tc.dimensions },
        statistic: t.statistic,
        comparisonOperator: t.comparisonOperator,
        threshold: t.threshold,
        period: t.periodSeconds,
        evaluationPeriods: t.evaluationPeriods,
        datapointsToAlarm: t.evaluationPeriods,
        treatMissingData: t.treatMissingData,
        tags,
      },
      { parent: this },
    );
    const trafficCheck = new aws.route53.HealthCheck(
      `${name}-traffic`,
      {
        type: "CLOUDWATCH_METRIC",
        cloudwatchAlarmName: trafficAlarm.name,
        cloudwatchAlarmRegion: tc.region,
        // "LastKnownStatus": a new check with no history is healthy (a fresh deployment is on
        // before drctl ever publishes), and while the peer's region cannot be read the check keeps
        // what it last saw, so the peer's outage neither switches this site off nor back on.
        // https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
        insufficientDataHealthStatus: "LastKnownStatus",
        triggers: { alarm: JSON.stringify({ ...t, metric: tc }) },
        tags: checkTags(" traffic control"),
      },
      { parent: this },
    );
    // Healthy only while both children are: the site can serve AND it is switched on. Route 53
    // counts the healthy children and compares the count with the threshold (Type CALCULATED,
    // HealthThreshold). https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
    const gate = new aws.route53.HealthCheck(
      `${name}-gate`,
      {
        type: "CALCULATED",
        childHealthchecks: [healthCheck.id, trafficCheck.id],
        childHealthThreshold: 2,
        tags: checkTags(" gate"),
      },
      { parent: this },
    );

    const alias = args.loadBalancer;
    new aws.route53.Record(
      `${name}-record`,
      {
        zoneId: args.zoneId,
        name: args.recordName,
        type: recordType,
        setIdentifier: args.setIdentifier,
        failoverRoutingPolicies: [{ type: args.failoverType }],
        // The SECONDARY carries its check too: when it is unhealthy Route 53 answers with the
        // PRIMARY whatever the PRIMARY's health, which is what makes the traffic control work in
        // both directions (docs/dns-failover.md, "When every check is unhealthy").
        // https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html
        healthCheckId: gate.id,
        ...(alias
          ? {
              // Alias records take the target's TTL (60 s for a load balancer). Failover alias
              // records must evaluate target health: no healthy target behind the load
              // balancer also counts as down.
              aliases: [{ name: alias.dnsName, zoneId: alias.zoneId, evaluateTargetHealth: true }],
            }
          : { records: [...(args.records ?? [])], ttl }),
        // Never take over a record this stack did not create (e.g. the peer's).
        allowOverwrite: false,
      },
      { parent: this },
    );

    this.recordName = pulumi.output(args.recordName);
    this.failoverType = pulumi.output(args.failoverType);
    this.healthCheckId = healthCheck.id;
    this.trafficHealthCheckId = trafficCheck.id;
    this.recordHealthCheckId = gate.id;
    this.healthAlarmName = alarm ? alarm.name : pulumi.output(undefined);
    this.trafficControlAlarmName = trafficAlarm.name;
    this.registerOutputs({
      recordName: this.recordName,
      failoverType: this.failoverType,
      healthCheckId: this.healthCheckId,
      trafficHealthCheckId: this.trafficHealthCheckId,
      recordHealthCheckId: this.recordHealthCheckId,
      healthAlarmName: this.healthAlarmName,
      trafficControlAlarmName: this.trafficControlAlarmName,
    });
  }
}
