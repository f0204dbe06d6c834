import { describe, expect, it } from "vitest";
import { alarmSpecs, validateBackupAlarmsArgs } from "../../components/backups/alarms";
import { ROLES } from "../../components/config";
import { runStack, type StackRun } from "../harness";

const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";

/** BackupAlarms' alarms (not the DNS component's traffic control). */
function pagingAlarms(run: StackRun) {
  const component = run.one("drstack:backup:BackupAlarms");
  return run.ofType(ALARM).filter((r) => r.parent === component.urn);
}

/** Alarm inputs by the alarm's name without the site stem. */
function alarms(run: StackRun, stem: string): Record<string, any> {
  return Object.fromEntries(
    pagingAlarms(run).map((r) => [String(r.inputs.name).replace(`${stem}-`, ""), r.inputs]),
  );
}

/** The same set of alarms in every role (docs/architecture.md §2b): a role change only toggles notifications. */
const ALL_ALARMS = [
  "backup-age-daily",
  "drill-age",
  "drill-failed",
  "endpoint-health",
  "replica-lag",
  "replication-failed",
  "replication-latency",
];

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
    expect(Object.keys(a).sort()).toEqual(ALL_ALARMS);
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
    const all = pagingAlarms(run);
    expect(all.length).toBe(7);
    for (const r of all) {
      expect(r.inputs.alarmActions, r.name).toEqual([run.outputs.alarmTopicArn]);
      expect(r.inputs.okActions, r.name).toEqual([run.outputs.alarmTopicArn]);
      expect(r.inputs.region, r.name).toBe("us-east-1");
    }
    // A primary is no replica: its replica-lag alarm exists but stays quiet.
    const enabled = all.filter((r) => r.inputs.actionsEnabled).map((r) => r.inputs.name);
    expect(enabled.sort()).toEqual(
      ALL_ALARMS.filter((k) => k !== "replica-lag").map((k) => `acme-dr-use1-${k}`),
    );
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
  it("watch the read replica's lag; the replication-out alarms stay quiet", async () => {
    const run = await runStack("dr");
    const a = alarms(run, "acme-dr-usw2");
    expect(Object.keys(a).sort()).toEqual(ALL_ALARMS);
    // Replication out is the primary's: those alarms exist on the standby, quiet.
    expect(a["replication-failed"].actionsEnabled).toBe(false);
    expect(a["replication-latency"].actionsEnabled).toBe(false);
    expect(a["replica-lag"].actionsEnabled).toBe(true);
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
    const a = alarms(run, "acme-dr-use1");
    expect(Object.keys(a).sort()).toEqual(ALL_ALARMS);
    for (const [key, inputs] of Object.entries(a)) {
      // Route 53's view of the endpoint is role-independent (see "endpoint health" below).
      expect(inputs.actionsEnabled, key).toBe(key === "endpoint-health");
    }
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

describe("endpoint health: paged from where Route 53 publishes", () => {
  // Route 53 publishes HealthCheckStatus in us-east-1 only (choose US East (N. Virginia) in the
  // CloudWatch console): https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html
  // and an alarm elsewhere never leaves INSUFFICIENT_DATA (hashicorp/terraform#7371). Alarm
  // actions publish only to SNS topics in the alarm's own region.
  const ENDPOINT = {
    namespace: "AWS/Route53",
    metricName: "HealthCheckStatus",
    statistic: "Minimum",
    comparisonOperator: "LessThanThreshold",
    threshold: 1,
    period: 60,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    treatMissingData: "breaching",
    actionsEnabled: true,
  };

  it("use1 (in us-east-1): on its endpoint check, through its own topic", async () => {
    const run = await runStack("primary");
    const a = alarms(run, "acme-dr-use1")["endpoint-health"];
    expect(a).toMatchObject({
      ...ENDPOINT,
      region: "us-east-1",
      name: "acme-dr-use1-endpoint-health",
      dimensions: { HealthCheckId: run.outputs.healthCheckId },
      alarmActions: [run.outputs.alarmTopicArn],
      okActions: [run.outputs.alarmTopicArn],
    });
    // The endpoint check, not the traffic-gated one: switching a site off is not an outage.
    expect(run.outputs.healthCheckId).not.toBe(run.outputs.recordHealthCheckId);
  });

  it("usw2: the alarm lives in us-east-1 and pages through use1's topic there", async () => {
    const run = await runStack("dr");
    const a = alarms(run, "acme-dr-usw2")["endpoint-health"];
    expect(a).toMatchObject({
      ...ENDPOINT,
      region: "us-east-1",
      name: "acme-dr-usw2-endpoint-health",
      dimensions: { HealthCheckId: run.outputs.healthCheckId },
      alarmActions: ["arn:aws:sns:us-east-1:111122223333:acme-dr-use1-dr-alarms"],
      okActions: ["arn:aws:sns:us-east-1:111122223333:acme-dr-use1-dr-alarms"],
    });
    // ... which is the topic use1's stack creates, in every role.
    const use1 = await runStack("primary", { role: "fenced" });
    expect(use1.outputs.alarmTopicArn).toBe(a.alarmActions[0]);
  });

  it("is left out when neither site is where Route 53 publishes, or without DNS", async () => {
    const elsewhere = await runStack("dr", {
      sites: { use1: { region: "us-east-2" } },
    });
    expect(Object.keys(alarms(elsewhere, "acme-dr-usw2"))).not.toContain("endpoint-health");
    const noDns = await runStack("primary", { dns: undefined, regionSwitch: undefined });
    expect(Object.keys(alarms(noDns, "acme-dr-use1"))).not.toContain("endpoint-health");
  });

  it("refuses a topic outside the alarm's region", () => {
    expect(() =>
      validateBackupAlarmsArgs({
        region: "us-west-2",
        role: "standby",
        topicName: "t",
        kmsKeyArn: "k",
        alarmPrefix: "acme-dr-usw2",
        metricsNamespace: "DrStack/Backups",
        dbInstanceIdentifier: "acme-dr-usw2-pg",
        replication: { sourceBucket: "a", destinationBucket: "b", ruleId: "r" },
        endpointHealth: {
          healthCheckId: "hc",
          metricsRegion: "us-east-1",
          peerTopicArn: "arn:aws:sns:us-west-2:111122223333:acme-dr-usw2-dr-alarms",
        },
      }),
    ).toThrow(
      "[endpointHealth.peerTopicArn] must be an SNS topic in us-east-1, where the alarm on Route 53's " +
        "metrics lives (alarm actions publish only to topics in the alarm's region), got " +
        "arn:aws:sns:us-west-2:111122223333:acme-dr-usw2-dr-alarms",
    );
  });
});
