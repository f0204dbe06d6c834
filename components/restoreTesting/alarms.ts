import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { metricAlarmArgs, type AlarmSpec } from "../backups/alarms";
import type { DashboardSignal } from "../observability/dashboard";
import type { Role } from "../config";

/**
 * Metric names `drctl restore-test` publishes (drctl/src/commands/restoreTest.ts): the contract the
 * alarms below read; renaming one silently blinds an alarm.
 */
export const RESTORE_TEST_METRICS = {
  success: "RestoreTestSuccess",
  lastSuccessAge: "RestoreTestLastSuccessAgeSeconds",
} as const;

export interface RestoreTestAlarmsArgs {
  readonly region: string;
  readonly role: Role;
  /** The site's alarm topic (BackupAlarms.topicArn). */
  readonly topicArn: pulumi.Input<string>;
  /** Prefix of the alarm names, e.g. the site stem. */
  readonly alarmPrefix: string;
  /** naming.metricsNamespace. */
  readonly metricsNamespace: string;
  /** @default 35 */
  readonly maxAgeDays?: number;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * Why drctl's own metrics and not AWS Backup's: AWS/Backup's NumberOfRestoreJobsCompleted and
 * NumberOfRestoreJobsFailed (dimension ResourceType) count every restore job in the Region, on
 * demand ones included, and say nothing about validation; and an alarm cannot look back 35 days
 * (period x evaluation periods is at most 7 days). An age gauge re-published hourly can.
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/cloudwatch.html
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
 */
export function restoreTestAlarmSpecs(
  metricsNamespace: string,
  maxAgeDays: number,
  role: Role,
): AlarmSpec[] {
  // A fenced site's check is suspended, as its drill is: it notifies no one.
  const actionsEnabled = role !== "fenced";
  return [
    {
      key: "restore-test-age",
      description:
        `No validated AWS Backup restore test in ${maxAgeDays} days, or drctl restore-test stopped ` +
        `reporting; see docs/restore-testing.md.`,
      namespace: metricsNamespace,
      metricName: RESTORE_TEST_METRICS.lastSuccessAge,
      statistic: "Maximum",
      period: 3600,
      // Two hourly runs in a row: one missed run does not page anyone.
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: "GreaterThanThreshold",
      threshold: maxAgeDays * 86400,
      // No data: no test ever passed, or nobody is checking. Both need a person.
      treatMissingData: "breaching",
      actionsEnabled,
    },
    {
      key: "restore-test-failed",
      description:
        "The last AWS Backup restore test failed (restore or validation); its report under " +
        "reports/restore-tests/ and the restore job in AWS Backup say why.",
      namespace: metricsNamespace,
      metricName: RESTORE_TEST_METRICS.success,
      statistic: "Minimum",
      period: 3600,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      // Published once per test: between tests the alarm keeps its state, so a failure stays in
      // ALARM until a test passes.
      treatMissingData: "ignore",
      actionsEnabled,
    },
  ];
}

/** Validates the args; messages name the argument. */
export function restoreTestAlarmsArgsProblems(args: RestoreTestAlarmsArgs): string[] {
  const days = args.maxAgeDays;
  // The tests are monthly: less than 32 days would page between two passing tests.
  if (days !== undefined && (!Number.isInteger(days) || days < 32)) {
    return [`[maxAgeDays] must be a whole number of at least 32 (tests are monthly), got ${days}`];
  }
  return [];
}

/** The two restore-test alarms of a site, on its alarm topic; silent on a fenced site. */
export class RestoreTestAlarms extends pulumi.ComponentResource {
  public readonly alarmNames: pulumi.Output<string[]>;
  /** What each alarm watches: the site dashboard draws these. */
  public readonly signals: readonly DashboardSignal[];

  constructor(name: string, args: RestoreTestAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:backup:RestoreTestAlarms", name, {}, opts);
    const problems = restoreTestAlarmsArgsProblems(args);
    if (problems.length) {
      throw new Error(`invalid RestoreTestAlarms args:\n  ${problems.join("\n  ")}`);
    }
    const tags = args.tags ?? {};
    const specs = restoreTestAlarmSpecs(args.metricsNamespace, args.maxAgeDays ?? 35, args.role);
    this.signals = specs.map((spec) => ({ spec, region: args.region }));
    const alarms = specs.map(
      (s) =>
        new aws.cloudwatch.MetricAlarm(
          `${name}-${s.key}`,
          metricAlarmArgs(
            args.alarmPrefix,
            s,
            { region: args.region, topicArn: args.topicArn },
            tags,
          ),
          { parent: this },
        ),
    );
    this.alarmNames = pulumi.all(alarms.map((a) => a.name));
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}
