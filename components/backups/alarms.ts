import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { DashboardSignal } from "../observability/dashboard";
import type { Role } from "../config";

/**
 * Metric names drctl publishes into the site's metrics namespace (docs/backup-jobs.md is the
 * contract). Alarms below read them; renaming one silently blinds an alarm.
 */
export const DRCTL_METRICS = {
  /** Seconds since the newest complete backup of a tier finished; dimension Tier. */
  backupAge: "BackupAgeSeconds",
  /** Seconds since the newest passing drill report; no dimensions. */
  drillLastSuccessAge: "DrillLastSuccessAgeSeconds",
  /** 1 when a drill passed, 0 when it failed; no dimensions. */
  drillSuccess: "DrillSuccess",
} as const;

/** Where the backup bucket replicates to: the dimensions S3 reports replication metrics under. */
export interface ReplicationRef {
  readonly sourceBucket: string;
  readonly destinationBucket: string;
  /** Replication rule id (naming.replicationRuleId). */
  readonly ruleId: string;
}

export interface BackupAlarmsArgs {
  readonly region: string;
  /** This site's role: decides which alarms exist and whether they notify. */
  readonly role: Role;
  /** SNS topic name (naming.alarmTopicName). */
  readonly topicName: string;
  /** Site key ARN: the topic is encrypted with it (its key policy lets CloudWatch publish). */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Prefix of every alarm name, e.g. the site stem `acme-dr-use1`. */
  readonly alarmPrefix: string;
  /** CloudWatch namespace drctl publishes into. */
  readonly metricsNamespace: string;
  /** This site's DB instance identifier: the standby's replica-lag alarm watches it. */
  readonly dbInstanceIdentifier: string;
  /** This site's bucket replication (read on the primary only). */
  readonly replication: ReplicationRef;
  /** Address subscribed to the topic; it must confirm by e-mail. @default undefined */
  readonly email?: string;
  /** @default 26 */
  readonly backupMaxAgeHours?: number;
  /** @default 35 */
  readonly drillMaxAgeDays?: number;
  /** @default 60 */
  readonly replicaLagSeconds?: number;
  /**
   * Page when Route 53 sees this site's endpoint as unhealthy (see EndpointHealthArgs).
   * @default undefined: no endpoint-health alarm (no DNS failover, or no topic where Route 53's
   * metrics are)
   */
  readonly endpointHealth?: EndpointHealthArgs;
  /** Tags for the topic and the alarms. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * The alarm on the site's Route 53 endpoint check. Route 53 publishes HealthCheckStatus in
 * us-east-1 only (ROUTE53_METRICS_REGION), and CloudWatch alarm actions must be SNS topics in the
 * alarm's own region, so the alarm lives in `metricsRegion` and pages through the topic there:
 * this site's own when it is in that region, otherwise the peer's (`peerTopicArn`). For a site
 * outside us-east-1 that is the page that survives its region; for the site in us-east-1 the
 * surviving peer pages on its own metrics instead (its standby's replica-lag alarm).
 */
export interface EndpointHealthArgs {
  /** The endpoint health check (DnsFailover.healthCheckId), not the traffic-gated one. */
  readonly healthCheckId: pulumi.Input<string>;
  /** Where Route 53 publishes health-check metrics (ROUTE53_METRICS_REGION). */
  readonly metricsRegion: string;
  /** The alarm topic in `metricsRegion` when that is not this site's region. @default undefined */
  readonly peerTopicArn?: string;
}

/** One CloudWatch alarm, as plain data so that tests and docs read the same numbers. */
export interface AlarmSpec {
  readonly key: string;
  readonly description: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  readonly statistic: "Maximum" | "Minimum" | "Sum";
  readonly period: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly comparisonOperator: "GreaterThanThreshold" | "LessThanThreshold";
  readonly threshold: number;
  readonly treatMissingData: "breaching" | "notBreaching" | "ignore";
  /**
   * Whether the alarm notifies in this role. Every alarm exists in every role, so a role change
   * only turns notifications on or off (an update in the site's own region) and never creates or
   * deletes an alarm on the failover path; a fenced site notifies no one (its jobs are suspended).
   */
  readonly actionsEnabled: boolean;
}

/** The MetricAlarm of a spec, paging `where.topicArn`; every site alarm is built through this. */
export function metricAlarmArgs(
  alarmPrefix: string,
  spec: AlarmSpec,
  where: { region: string; topicArn: pulumi.Input<string> },
  tags: Record<string, string>,
): aws.cloudwatch.MetricAlarmArgs {
  return {
    region: where.region,
    name: `${alarmPrefix}-${spec.key}`,
    alarmDescription: spec.description,
    namespace: spec.namespace,
    metricName: spec.metricName,
    dimensions: spec.dimensions,
    statistic: spec.statistic,
    period: spec.period,
    evaluationPeriods: spec.evaluationPeriods,
    datapointsToAlarm: spec.datapointsToAlarm,
    comparisonOperator: spec.comparisonOperator,
    threshold: spec.threshold,
    treatMissingData: spec.treatMissingData,
    actionsEnabled: spec.actionsEnabled,
    alarmActions: [where.topicArn],
    // Recovery is news too: on-call closes the page when the OK arrives.
    okActions: [where.topicArn],
    tags,
  };
}

/** Replication Time Control's promise: 99.99 % of objects within 15 minutes. */
export const REPLICATION_LATENCY_SECONDS = 900;

export interface AlarmInput {
  readonly role: Role;
  readonly metricsNamespace: string;
  readonly dbInstanceIdentifier: string;
  readonly replication: ReplicationRef;
  readonly backupMaxAgeHours: number;
  readonly drillMaxAgeDays: number;
  readonly replicaLagSeconds: number;
}

/**
 * The alarms of a site, the same set in every role; the role decides which of them notify. Age
 * metrics are gauges that `drctl status` re-publishes every hour, so "too old" and "nobody
 * measured" both end as ALARM (missing data is breaching), and the drill alarm can look back 35
 * days although CloudWatch evaluates at most 7 days of datapoints (period x evaluation periods <=
 * 604,800 s): a sum of DrillSuccess over 35 days cannot be expressed, an age re-published hourly can.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
 */
export function alarmSpecs(a: AlarmInput): AlarmSpec[] {
  const live = a.role !== "fenced";
  // Two hourly datapoints in a row: one missed status run does not page anyone.
  const hourlyGauge = { period: 3600, evaluationPeriods: 2, datapointsToAlarm: 2 } as const;
  const replication = {
    SourceBucket: a.replication.sourceBucket,
    DestinationBucket: a.replication.destinationBucket,
    RuleId: a.replication.ruleId,
  };
  return [
    {
      key: "backup-age-daily",
      description: `Newest complete daily backup is older than ${a.backupMaxAgeHours} h, or drctl status stopped reporting.`,
      namespace: a.metricsNamespace,
      metricName: DRCTL_METRICS.backupAge,
      dimensions: { Tier: "daily" },
      statistic: "Maximum",
      ...hourlyGauge,
      comparisonOperator: "GreaterThanThreshold",
      threshold: a.backupMaxAgeHours * 3600,
      // No data means no backups (or nobody checking): both need a person.
      treatMissingData: "breaching",
      actionsEnabled: live,
    },
    {
      key: "drill-age",
      description: `No successful restore drill in ${a.drillMaxAgeDays} days, or drctl status stopped reporting.`,
      namespace: a.metricsNamespace,
      metricName: DRCTL_METRICS.drillLastSuccessAge,
      statistic: "Maximum",
      ...hourlyGauge,
      comparisonOperator: "GreaterThanThreshold",
      threshold: a.drillMaxAgeDays * 86400,
      treatMissingData: "breaching",
      actionsEnabled: live,
    },
    {
      key: "drill-failed",
      description: "The last restore drill failed; its report under reports/ says why.",
      namespace: a.metricsNamespace,
      metricName: DRCTL_METRICS.drillSuccess,
      statistic: "Minimum",
      period: 3600,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      // A drill publishes once a month: between drills the alarm keeps its state, so a failure
      // stays in ALARM until a drill passes.
      treatMissingData: "ignore",
      actionsEnabled: live,
    },
    {
      key: "replica-lag",
      description: `Cross-region read replica ${a.dbInstanceIdentifier} is more than ${a.replicaLagSeconds} s behind.`,
      namespace: "AWS/RDS",
      metricName: "ReplicaLag",
      dimensions: { DBInstanceIdentifier: a.dbInstanceIdentifier },
      statistic: "Maximum",
      period: 60,
      // Five minutes in a row: a vacuum or a large transaction may spike lag briefly.
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      comparisonOperator: "GreaterThanThreshold",
      threshold: a.replicaLagSeconds,
      // A replica that stops reporting lag is not replicating. This is also the page a standby
      // sends from its own region when the primary's region goes dark: RDS reports lag as
      // now() - pg_last_xact_replay_timestamp(), which only grows once the source is gone.
      // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.Replication.ReadReplicas.Monitor.html
      treatMissingData: "breaching",
      // Only a standby is a replica: anywhere else the metric is absent (breaching by design).
      actionsEnabled: a.role === "standby",
    },
    // S3 reports these per rule when the rule has metrics (Replication Time Control) enabled.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html
    {
      key: "replication-failed",
      description: `Objects failed to replicate from ${a.replication.sourceBucket} to ${a.replication.destinationBucket}.`,
      namespace: "AWS/S3",
      metricName: "OperationsFailedReplication",
      dimensions: replication,
      statistic: "Sum",
      period: 300,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      // No replication traffic, no datapoint: nothing failed.
      treatMissingData: "notBreaching",
      // Only a primary replicates out.
      actionsEnabled: a.role === "primary",
    },
    {
      key: "replication-latency",
      description: `Replication to ${a.replication.destinationBucket} is behind Replication Time Control's 15 minutes.`,
      namespace: "AWS/S3",
      metricName: "ReplicationLatency",
      dimensions: replication,
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: REPLICATION_LATENCY_SECONDS,
      treatMissingData: "notBreaching",
      actionsEnabled: a.role === "primary",
    },
  ];
}

/**
 * The only region where Route 53 publishes its health-check metrics (`AWS/Route53`
 * `HealthCheckStatus`), per partition: an alarm on a health check can live nowhere else.
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html
 * (the procedure says to choose US East (N. Virginia); hashicorp/terraform#7371 shows an alarm
 * elsewhere staying in INSUFFICIENT_DATA). Other partitions: no source found, so no alarm.
 */
export const ROUTE53_METRICS_REGION: Readonly<Record<string, string>> = { aws: "us-east-1" };

/** The alarm on a site's Route 53 endpoint check (see EndpointHealthArgs). */
export function endpointHealthSpec(site: string, healthCheckId: pulumi.Input<string>): AlarmSpec {
  return {
    key: "endpoint-health",
    description:
      `Route 53 sees ${site}'s endpoint as unhealthy: its failover record stops answering ` +
      `(docs/dns-failover.md). Route 53's HealthCheckStatus, 1 healthy / 0 unhealthy.`,
    namespace: "AWS/Route53",
    metricName: "HealthCheckStatus",
    dimensions: { HealthCheckId: healthCheckId },
    statistic: "Minimum",
    // Route 53 already needs failureThreshold consecutive failures from most checkers before
    // the status flips, so one unhealthy minute is an outage, not a blip.
    period: 60,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: "LessThanThreshold",
    threshold: 1,
    // Route 53 publishes the status every minute; silence is not health.
    treatMissingData: "breaching",
    // Role-independent: in a site whose region is not us-east-1 this alarm lives in the peer's
    // region, and a failover transition must never touch a resource there.
    actionsEnabled: true,
  };
}

/** Validates the args; messages name the argument. */
export function validateBackupAlarmsArgs(args: BackupAlarmsArgs): void {
  const eh = args.endpointHealth;
  if (eh && eh.metricsRegion !== args.region) {
    const topicRegion = eh.peerTopicArn?.split(":")[3];
    if (topicRegion !== eh.metricsRegion) {
      throw new Error(
        `[endpointHealth.peerTopicArn] must be an SNS topic in ${eh.metricsRegion}, where the alarm on ` +
          `Route 53's metrics lives (alarm actions publish only to topics in the alarm's region), got ` +
          `${eh.peerTopicArn ?? "none"}`,
      );
    }
  }
  const positive: Array<[string, number | undefined]> = [
    ["backupMaxAgeHours", args.backupMaxAgeHours],
    ["drillMaxAgeDays", args.drillMaxAgeDays],
    ["replicaLagSeconds", args.replicaLagSeconds],
  ];
  for (const [key, value] of positive) {
    if (value !== undefined && !(value > 0)) {
      throw new Error(`[${key}] must be greater than 0, got ${value}`);
    }
  }
}

/**
 * The site's alarm topic (encrypted with the site key, optional e-mail subscription) and the
 * alarms on backup age, drill age and result, replica lag (standby) and S3 replication
 * (primary). A fenced site keeps its alarms but they notify no one: its jobs are suspended.
 */
export class BackupAlarms extends pulumi.ComponentResource {
  public readonly topicArn: pulumi.Output<string>;
  public readonly alarmNames: pulumi.Output<string[]>;
  /** What each alarm watches, with the region of its metric: the site dashboard draws these. */
  public readonly signals: readonly DashboardSignal[];

  constructor(name: string, args: BackupAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:BackupAlarms", name, {}, opts);
    validateBackupAlarmsArgs(args);
    const tags = args.tags ?? {};
    const region = args.region;

    const topic = new aws.sns.Topic(
      `${name}-topic`,
      { region, name: args.topicName, kmsMasterKeyId: args.kmsKeyArn, tags },
      { parent: this },
    );
    if (args.email !== undefined) {
      new aws.sns.TopicSubscription(
        `${name}-email`,
        { region, topic: topic.arn, protocol: "email", endpoint: args.email },
        { parent: this },
      );
    }

    const specs = alarmSpecs({
      role: args.role,
      metricsNamespace: args.metricsNamespace,
      dbInstanceIdentifier: args.dbInstanceIdentifier,
      replication: args.replication,
      backupMaxAgeHours: args.backupMaxAgeHours ?? 26,
      drillMaxAgeDays: args.drillMaxAgeDays ?? 35,
      replicaLagSeconds: args.replicaLagSeconds ?? 60,
    });
    const alarm = (
      spec: AlarmSpec,
      where: { region: string; topicArn: pulumi.Input<string> },
    ): aws.cloudwatch.MetricAlarm =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${spec.key}`,
        metricAlarmArgs(args.alarmPrefix, spec, where, tags),
        { parent: this },
      );
    const alarms = specs.map((s) => alarm(s, { region, topicArn: topic.arn }));
    const signals: DashboardSignal[] = specs.map((spec) => ({ spec, region }));
    const eh = args.endpointHealth;
    if (eh) {
      const local = eh.metricsRegion === region;
      const spec = endpointHealthSpec(args.alarmPrefix, eh.healthCheckId);
      alarms.push(
        alarm(spec, {
          region: eh.metricsRegion,
          topicArn: local ? topic.arn : (eh.peerTopicArn as string),
        }),
      );
      signals.push({ spec, region: eh.metricsRegion });
    }
    this.signals = signals;

    this.topicArn = topic.arn;
    this.alarmNames = pulumi.all(alarms.map((a) => a.name));
    this.registerOutputs({ topicArn: this.topicArn, alarmNames: this.alarmNames });
  }
}
