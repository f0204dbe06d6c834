import { describe, expect, it } from "vitest";
import { alarmSpecs } from "../components/backupAlarms";
import { ROLES } from "../components/config";
import { runStack, type StackRun } from "./harness";

const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
/** BackupAlarms' own alarms (the restore-test alarms are RestoreTestAlarms'). */
const ofBackupAlarms = (r: { urn: string }) => r.urn.includes("drstack:backup:BackupAlarms$");

/** Alarm inputs by the alarm's name without the site stem. */
function alarms(run: StackRun, stem: string): Record<string, any> {
  return Object.fromEntries(
    run
      .ofType(ALARM)
      .filter(ofBackupAlarms)
      .map((r) => [String(r.inputs.name).replace(`${stem}-`, ""), r.inputs]),
  );
}

describe("alarm topic", () => {
  it("is named from naming, encrypted with the site key, with the on-call e-mail", async () => {
    const run = await runStack("primary");
    const topic = run.one("aws:sns/topic:Topic");
    expect(topic.inputs).toMatchObject({
      name: "acme-dr-use1-dr-alarms",
      region: "us-east-1",
      kmsMasterKeyId: run.outputs.kmsKeyArn,
    });
    expect(run.outputs.alarmTopicArn).toBe(
      "arn:aws:sns:us-east-1:111122223333:acme-dr-use1-dr-alarms",
    );
    const sub = run.one("aws:sns/topicSubscription:TopicSubscription");
    expect(sub.inputs).toMatchObject({
      region: "us-east-1",
      topic: run.outputs.alarmTopicArn,
      protocol: "email",
      endpoint: "oncall@acme-dr.example.com",
    });
  });

  it("has no subscription without an e-mail", async () => {
    const run = await runStack("dr", { alarms: { email: undefined } });
    expect(run.ofType("aws:sns/topicSubscription:TopicSubscription")).toEqual([]);
    expect(run.one("aws:sns/topic:Topic").inputs.name).toBe("acme-dr-usw2-dr-alarms");
  });
});

describe("alarms on the primary", () => {
  it("backup age 26 h, drill age 35 d, drill failure, S3 replication failures and latency", async () => {
    const run = await runStack("primary");
    const a = alarms(run, "acme-dr-use1");
    expect(Object.keys(a).sort()).toEqual([
      "backup-age-daily",
      "drill-age",
      "drill-failed",
      "replication-failed",
      "replication-latency",
    ]);
    expect(a["backup-age-daily"]).toMatchObject({
      namespace: "DrStack/Backups",
      metricName: "BackupAgeSeconds",
      dimensions: { Tier: "daily" },
      statistic: "Maximum",
      comparisonOperator: "GreaterThanThreshold",
      threshold: 93600,
      period: 3600,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: "breaching",
    });
    expect(a["drill-age"]).toMatchObject({
      namespace: "DrStack/Backups",
      metricName: "DrillLastSuccessAgeSeconds",
      comparisonOperator: "GreaterThanThreshold",
      threshold: 35 * 86400,
      treatMissingData: "breaching",
    });
    expect(a["drill-age"].threshold).toBe(3024000);
    expect(a["drill-failed"]).toMatchObject({
      metricName: "DrillSuccess",
      statistic: "Minimum",
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "ignore",
    });
    const dimensions = {
      SourceBucket: "acme-dr-use1-backups-111122223333",
      DestinationBucket: "acme-dr-usw2-backups-111122223333",
      RuleId: "backups-use1-to-usw2",
    };
    expect(a["replication-failed"]).toMatchObject({
      namespace: "AWS/S3",
      metricName: "OperationsFailedReplication",
      dimensions,
      statistic: "Sum",
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      treatMissingData: "notBreaching",
    });
    expect(a["replication-latency"]).toMatchObject({
      namespace: "AWS/S3",
      metricName: "ReplicationLatency",
      dimensions,
      statistic: "Maximum",
      comparisonOperator: "GreaterThanThreshold",
      threshold: 900,
    });
  });

  it("sends every alarm and its recovery to the topic, from the site's region", async () => {
    const run = await runStack("primary");
    const all = run.ofType(ALARM).filter(ofBackupAlarms);
    expect(all.length).toBe(5);
    for (const r of all) {
      expect(r.inputs.alarmActions, r.name).toEqual([run.outputs.alarmTopicArn]);
      expect(r.inputs.okActions, r.name).toEqual([run.outputs.alarmTopicArn]);
      expect(r.inputs.actionsEnabled, r.name).toBe(true);
      expect(r.inputs.region, r.name).toBe("us-east-1");
    }
  });

  it("takes thresholds from config", async () => {
    const a = alarms(
      await runStack("primary", { alarms: { backupMaxAgeHours: 30, drillMaxAgeDays: 40 } }),
      "acme-dr-use1",
    );
    expect(a["backup-age-daily"].threshold).toBe(108000);
    expect(a["drill-age"].threshold).toBe(3456000);
  });
});

describe("alarms on the standby", () => {
  it("watch the read replica's lag instead of replication out", async () => {
    const run = await runStack("dr");
    const a = alarms(run, "acme-dr-usw2");
    expect(Object.keys(a).sort()).toEqual([
      "backup-age-daily",
      "drill-age",
      "drill-failed",
      "replica-lag",
    ]);
    expect(a["replica-lag"]).toMatchObject({
      region: "us-west-2",
      namespace: "AWS/RDS",
      metricName: "ReplicaLag",
      dimensions: { DBInstanceIdentifier: "acme-dr-usw2-pg" },
      statistic: "Maximum",
      comparisonOperator: "GreaterThanThreshold",
      threshold: 60,
      period: 60,
      evaluationPeriods: 5,
      alarmActions: [run.outputs.alarmTopicArn],
    });
    expect(run.outputs.alarmTopicArn).toBe(
      "arn:aws:sns:us-west-2:111122223333:acme-dr-usw2-dr-alarms",
    );
  });

  it("uses the configured replica-lag threshold", async () => {
    const a = alarms(await runStack("dr", { alarms: { replicaLagSeconds: 300 } }), "acme-dr-usw2");
    expect(a["replica-lag"].threshold).toBe(300);
  });
});

describe("a fenced site", () => {
  it("keeps its alarms but notifies no one: its jobs are suspended on purpose", async () => {
    const run = await runStack("primary", { role: "fenced" });
    const all = run.ofType(ALARM).filter(ofBackupAlarms);
    expect(all.map((r) => r.inputs.name).sort()).toEqual([
      "acme-dr-use1-backup-age-daily",
      "acme-dr-use1-drill-age",
      "acme-dr-use1-drill-failed",
    ]);
    for (const r of all) expect(r.inputs.actionsEnabled, r.name).toBe(false);
  });
});

describe("alarm windows", () => {
  it("stay within what CloudWatch accepts in every role", () => {
    for (const role of ROLES) {
      for (const s of alarmSpecs({
        role,
        metricsNamespace: "DrStack/Backups",
        dbInstanceIdentifier: "x-pg",
        replication: { sourceBucket: "a", destinationBucket: "b", ruleId: "r" },
        backupMaxAgeHours: 26,
        drillMaxAgeDays: 35,
        replicaLagSeconds: 60,
      })) {
        // PutMetricAlarm: period x evaluation periods <= 7 days, <= 1 day when period < 1 h.
        const range = s.period * s.evaluationPeriods;
        expect(range, `${role}/${s.key}`).toBeLessThanOrEqual(s.period < 3600 ? 86400 : 604800);
        expect(s.period % 60, `${role}/${s.key}`).toBe(0);
        expect(s.datapointsToAlarm, `${role}/${s.key}`).toBeLessThanOrEqual(s.evaluationPeriods);
      }
    }
  });
});
