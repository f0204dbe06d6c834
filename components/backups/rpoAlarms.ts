import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Role } from "../config";
import { metricAlarmArgs, type AlarmSpec } from "./alarms";

/**
 * Metric names `drctl rpo`, `drctl pitr-test` and `drctl status` publish (drctl/src/commands/rpo.ts,
 * drctl/src/pitr/pitrTest.ts): the contract the alarms below read.
 */
export const RPO_METRICS = {
  heartbeatAge: "HeartbeatAgeSeconds",
  pitrLatestRestorableAge: "PitrLatestRestorableAgeSeconds",
  newestCopyAge: "NewestCopyAgeSeconds",
  pitrSuccess: "PitrTestSuccess",
  pitrLastSuccessAge: "PitrTestLastSuccessAgeSeconds",
} as const;

export interface RpoAlarmInput {
  readonly role: Role;
  readonly metricsNamespace: string;
  /** This site's vault: the source of its copy jobs (AWS/Backup dimension BackupVaultName). */
  readonly vaultName: string;
  /** Data at risk that pages, in seconds (the heartbeat's age). */
  readonly rpoSeconds: number;
  /** Age of the newest restorable point of the point-in-time history that pages. */
  readonly pitrRestorableMaxAgeSeconds: number;
  /** Age of the newest copy in this site's vaults that pages. */
  readonly copyMaxAgeHours: number;
  /** Days without a passing point-in-time test that page. */
  readonly pitrTestMaxAgeDays: number;
}

/**
 * The data-at-risk alarms of a site, the same set in every role (the role decides which notify):
 *  - heartbeat age: on a standby, the data a loss of the primary would lose now; on a primary, a
 *    heartbeat that stopped (pg_cron not running), after which no RPO figure means anything;
 *  - the point-in-time history's restorable age (primary: its own; standby: the replicated one),
 *    which RDS's ReplicaLag cannot show once the source is gone;
 *  - failed copy jobs, in the region where they run: the source vault's, the primary's
 *    (StartCopyJob names the source vault by name, in the caller's Region, and the destination
 *    by ARN: https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartCopyJob.html; the
 *    metric: https://docs.aws.amazon.com/aws-backup/latest/devguide/cloudwatch.html);
 *  - the newest copy's age in this site's vaults, where the peer's copies land (standby);
 *  - the point-in-time restore test: the last one failed, or none passed in N days.
 */
export function rpoAlarmSpecs(a: RpoAlarmInput): AlarmSpec[] {
  const live = a.role !== "fenced";
  const minuteGauge = { period: 60, evaluationPeriods: 3, datapointsToAlarm: 3 } as const;
  return [
    {
      key: "heartbeat-rpo",
      description:
        `Data at risk above ${a.rpoSeconds} s: now minus the newest heartbeat this site's database ` +
        `holds (drctl rpo); on a primary, the heartbeat stopped. docs/restore-testing.md.`,
      namespace: a.metricsNamespace,
      metricName: RPO_METRICS.heartbeatAge,
      statistic: "Maximum",
      ...minuteGauge,
      comparisonOperator: "GreaterThanThreshold",
      threshold: a.rpoSeconds,
      // Silence is the worst case: the primary's region may be gone, or nobody is measuring.
      treatMissingData: "breaching",
      actionsEnabled: live,
    },
    {
      key: "pitr-restorable-age",
      description:
        `The newest point-in-time restorable in this region is more than ` +
        `${a.pitrRestorableMaxAgeSeconds} s old (automated backups, or their replication).`,
      namespace: a.metricsNamespace,
      metricName: RPO_METRICS.pitrLatestRestorableAge,
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: "GreaterThanThreshold",
      threshold: a.pitrRestorableMaxAgeSeconds,
      treatMissingData: "breaching",
      actionsEnabled: live,
    },
    {
      key: "copy-failed",
      description: `An AWS Backup copy job from ${a.vaultName} to the peer's vault failed.`,
      namespace: "AWS/Backup",
      metricName: "NumberOfCopyJobsFailed",
      dimensions: { ResourceType: "RDS", BackupVaultName: a.vaultName },
      statistic: "Sum",
      period: 3600,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      // No copy job, no datapoint: nothing failed (the age alarm below catches "no copies").
      treatMissingData: "notBreaching",
      // Only a primary backs up, so only its vault starts copy jobs.
      actionsEnabled: a.role === "primary",
    },
    {
      key: "copy-age",
      description: `The newest AWS Backup copy in this site's vaults is older than ${a.copyMaxAgeHours} h.`,
      namespace: a.metricsNamespace,
      metricName: RPO_METRICS.newestCopyAge,
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: "GreaterThanThreshold",
      threshold: a.copyMaxAgeHours * 3600,
      treatMissingData: "breaching",
      // The copies land in the standby's vaults.
      actionsEnabled: a.role === "standby",
    },
    {
      key: "pitr-test-failed",
      description:
        "The last point-in-time restore test failed; its report under reports/pitr-tests/ says why.",
      namespace: a.metricsNamespace,
      metricName: RPO_METRICS.pitrSuccess,
      statistic: "Minimum",
      period: 3600,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "ignore",
      actionsEnabled: live,
    },
    {
      key: "pitr-test-age",
      description: `No passing point-in-time restore test in ${a.pitrTestMaxAgeDays} days, or drctl status stopped reporting.`,
      namespace: a.metricsNamespace,
      metricName: RPO_METRICS.pitrLastSuccessAge,
      statistic: "Maximum",
      period: 3600,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: "GreaterThanThreshold",
      threshold: a.pitrTestMaxAgeDays * 86400,
      treatMissingData: "breaching",
      actionsEnabled: live,
    },
  ];
}

export interface RpoAlarmsArgs extends Partial<
  Omit<RpoAlarmInput, "role" | "metricsNamespace" | "vaultName">
> {
  readonly region: string;
  readonly role: Role;
  readonly topicArn: pulumi.Input<string>;
  readonly alarmPrefix: string;
  readonly metricsNamespace: string;
  readonly vaultName: string;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/** Defaults: RPO 60 s, restorable age 30 min, copy age 30 h, PITR test age 35 days. */
export const RPO_ALARM_DEFAULTS = {
  rpoSeconds: 60,
  // RDS uploads transaction logs every five minutes; replication to the peer adds its own delay.
  // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html
  pitrRestorableMaxAgeSeconds: 1800,
  // The daily rule plus the copy's own duration.
  copyMaxAgeHours: 30,
  pitrTestMaxAgeDays: 35,
} as const;

/** Validates the args; messages name the argument. */
export function rpoAlarmsArgsProblems(args: RpoAlarmsArgs): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(RPO_ALARM_DEFAULTS) as (keyof typeof RPO_ALARM_DEFAULTS)[]) {
    const v = args[key];
    if (v !== undefined && !(v > 0)) problems.push(`[${key}] must be greater than 0, got ${v}`);
  }
  return problems;
}

/** The data-at-risk alarms of a site, on its alarm topic. */
export class RpoAlarms extends pulumi.ComponentResource {
  public readonly alarmNames: pulumi.Output<string[]>;

  constructor(name: string, args: RpoAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:RpoAlarms", name, {}, opts);
    const problems = rpoAlarmsArgsProblems(args);
    if (problems.length) throw new Error(`invalid RpoAlarms args:\n  ${problems.join("\n  ")}`);
    const specs = rpoAlarmSpecs({
      role: args.role,
      metricsNamespace: args.metricsNamespace,
      vaultName: args.vaultName,
      rpoSeconds: args.rpoSeconds ?? RPO_ALARM_DEFAULTS.rpoSeconds,
      pitrRestorableMaxAgeSeconds:
        args.pitrRestorableMaxAgeSeconds ?? RPO_ALARM_DEFAULTS.pitrRestorableMaxAgeSeconds,
      copyMaxAgeHours: args.copyMaxAgeHours ?? RPO_ALARM_DEFAULTS.copyMaxAgeHours,
      pitrTestMaxAgeDays: args.pitrTestMaxAgeDays ?? RPO_ALARM_DEFAULTS.pitrTestMaxAgeDays,
    });
    const alarms = specs.map(
      (s) =>
        new aws.cloudwatch.MetricAlarm(
          `${name}-${s.key}`,
          metricAlarmArgs(
            args.alarmPrefix,
            s,
            { region: args.region, topicArn: args.topicArn },
            args.tags ?? {},
          ),
          { parent: this },
        ),
    );
    this.alarmNames = pulumi.all(alarms.map((a) => a.name));
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}
