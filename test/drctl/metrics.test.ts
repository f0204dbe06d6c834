import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import type { DrillReport } from "../../drctl/src/commands/drill";
import type { Manifest } from "../../drctl/src/manifest";
import { DEFAULT_METRICS_NAMESPACE, METRICS } from "../../drctl/src/metrics";
import { metricsNamespace } from "../../components/naming";
import { DRCTL_METRICS } from "../../components/backups/alarms";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";

// CloudWatch is the one AWS API here with no loopback server: its calls are checked against the
// SDK's own command stream. PostgreSQL and the store are real.
const cw = mockClient(CloudWatchClient);
afterEach(() => cw.reset());

const NS = "DrStack/Backups";
const METRICS_ENV = { DRCTL_METRICS_NAMESPACE: NS, AWS_REGION: "eu-west-1" };

let cluster: LocalCluster;
let work: string;
let dbUrl: string;

beforeAll(async () => {
  cluster = await startCluster();
  const db = await createDatabase(cluster, "metrics");
  await sql(cluster, db, "create table t as select generate_series(1, 500) as n");
  dbUrl = cluster.url(db);
  work = mkdtempSync(join(tmpdir(), "drctl-metrics-"));
});

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

function fileStore(): { dir: string; url: string } {
  const dir = mkdtempSync(join(work, "store-"));
  return { dir, url: pathToFileURL(dir).href };
}

function manifestOf(dir: string, tier: string, id: string): Manifest {
  return JSON.parse(readFileSync(join(dir, tier, id, "manifest.json"), "utf8")) as Manifest;
}

function puts(): unknown[] {
  return cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
}

/** Warning events on stderr (non-TTY: one JSON object per line). */
function warnings(stderr: string): { op: string; message: string }[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { event: string; op: string; message: string })
    .filter((e) => e.event === "warning");
}

describe("metrics", () => {
  it("uses the namespace and the metric names the stack's alarms read", () => {
    expect(DEFAULT_METRICS_NAMESPACE).toBe(metricsNamespace);
    expect(METRICS.backupAge.name).toBe(DRCTL_METRICS.backupAge);
    expect(METRICS.drillLastSuccessAge.name).toBe(DRCTL_METRICS.drillLastSuccessAge);
    expect(METRICS.drillSuccess.name).toBe(DRCTL_METRICS.drillSuccess);
  });

  it("backup publishes age 0, bytes and duration with the Tier dimension from the committed manifest", async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const { dir, url } = fileStore();
    const r = await drctl(
      ["backup", "--tier", "weekly", "--store", url, "--database-url", dbUrl],
      METRICS_ENV,
    );
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const m = manifestOf(dir, "weekly", id);
    const tier = [{ Name: "Tier", Value: "weekly" }];
    expect(puts()).toEqual([
      {
        Namespace: NS,
        MetricData: [
          { MetricName: "BackupAgeSeconds", Unit: "Seconds", Value: 0, Dimensions: tier },
          { MetricName: "BackupBytes", Unit: "Bytes", Value: m.dump.size, Dimensions: tier },
          {
            MetricName: "BackupDurationSeconds",
            Unit: "Seconds",
            Value: (Date.parse(m.finishedAt) - Date.parse(m.startedAt)) / 1000,
            Dimensions: tier,
          },
        ],
      },
    ]);
    expect(m.dump.size).toBeGreaterThan(0);
    expect(await cw.call(0).thisValue.config.region()).toBe("eu-west-1");
  });

  it("backup reads the tier from DRCTL_TIER and publishes nothing with --no-metrics or without a namespace", async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const { url } = fileStore();
    const off = await drctl(["backup", "--no-metrics", "--store", url, "--database-url", dbUrl], {
      ...METRICS_ENV,
      DRCTL_TIER: "daily",
    });
    expect(off.code).toBe(0);
    const unset = await drctl([
      "backup",
      "--tier",
      "daily",
      "--store",
      url,
      "--database-url",
      dbUrl,
    ]);
    expect(unset.code).toBe(0);
    expect(puts()).toEqual([]);

    const on = await drctl(["backup", "--store", url, "--database-url", dbUrl], {
      ...METRICS_ENV,
      DRCTL_TIER: "monthly",
    });
    expect(on.code).toBe(0);
    const input = puts()[0] as { MetricData: { MetricName: string; Dimensions: unknown }[] };
    expect(input.MetricData.map((d) => [d.MetricName, d.Dimensions])).toEqual([
      ["BackupAgeSeconds", [{ Name: "Tier", Value: "monthly" }]],
      ["BackupBytes", [{ Name: "Tier", Value: "monthly" }]],
      ["BackupDurationSeconds", [{ Name: "Tier", Value: "monthly" }]],
    ]);
  });

  it("a refused PutMetricData never fails the backup: exit 0, the id on stdout, a warning event", async () => {
    cw.on(PutMetricDataCommand).rejects(
      Object.assign(new Error("User is not authorized to perform: cloudwatch:PutMetricData"), {
        name: "AccessDenied",
      }),
    );
    const { dir, url } = fileStore();
    const r = await drctl(
      ["backup", "--tier", "daily", "--store", url, "--database-url", dbUrl],
      METRICS_ENV,
    );
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(manifestOf(dir, "daily", id).id).toBe(id);
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(warnings(r.stderr)).toEqual([
      {
        op: "backup",
        message:
          "publishing 3 metric(s) to CloudWatch namespace DrStack/Backups failed (AccessDenied: " +
          "User is not authorized to perform: cloudwatch:PutMetricData); the backup itself is " +
          "unaffected. Check cloudwatch:PutMetricData for this namespace in the role's policy and " +
          "the network path to monitoring.eu-west-1.amazonaws.com",
        event: "warning",
        time: expect.any(String),
      },
    ]);
  });

  it("drill publishes DrillSuccess 1, the restore duration and the backup age of its report", async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const { url } = fileStore();
    expect(
      (await drctl(["backup", "--tier", "daily", "--store", url, "--database-url", dbUrl])).code,
    ).toBe(0);
    const r = await drctl(
      ["drill", "--store", url, "--scratch-url", cluster.url("postgres"), "--json"],
      METRICS_ENV,
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as DrillReport;
    expect(puts()).toEqual([
      {
        Namespace: NS,
        MetricData: [
          { MetricName: "DrillSuccess", Unit: "Count", Value: 1 },
          {
            MetricName: "DrillRestoreDurationSeconds",
            Unit: "Seconds",
            Value: report.restoreDurationSeconds,
          },
          { MetricName: "DrillBackupAgeSeconds", Unit: "Seconds", Value: report.backupAgeSeconds },
        ],
      },
    ]);
  });

  it("a drill that fails early still publishes DrillSuccess 0, and only that", async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const { url } = fileStore();
    const r = await drctl(["drill", "--store", url, "--scratch-url", cluster.url("postgres")], {
      ...METRICS_ENV,
    });
    expect(r.code).toBe(2);
    expect(puts()).toEqual([
      { Namespace: NS, MetricData: [{ MetricName: "DrillSuccess", Unit: "Count", Value: 0 }] },
    ]);
    const off = await drctl(
      ["drill", "--store", url, "--scratch-url", cluster.url("postgres"), "--no-metrics"],
      METRICS_ENV,
    );
    expect(off.code).toBe(2);
    expect(puts()).toHaveLength(1);
  });

  it("status publishes BackupAgeSeconds per tier with a backup and the age of the last passing drill", async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const { dir, url } = fileStore();
    expect(
      (await drctl(["backup", "--tier", "daily", "--store", url, "--database-url", dbUrl])).code,
    ).toBe(0);
    // Reports, oldest first by key: a pass 10 days ago, then a failure 1 day ago.
    const passedAt = Date.now() - 10 * 86_400_000;
    mkdirSync(join(dir, "reports"));
    writeFileSync(
      join(dir, "reports", "2020-01-01-20200101T060000Z-aaaaaa.json"),
      JSON.stringify({ passed: true, finishedAt: new Date(passedAt).toISOString() }),
    );
    writeFileSync(
      join(dir, "reports", "2020-01-02-20200102T060000Z-bbbbbb.json"),
      JSON.stringify({ passed: false, finishedAt: new Date().toISOString() }),
    );
    const r = await drctl(["status", "--store", url, "--json"], METRICS_ENV);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout) as { tiers: { tier: string; ageSeconds?: number }[] };
    const daily = status.tiers.find((t) => t.tier === "daily")!;
    const [input] = puts() as { MetricData: { Value: number }[] }[];
    expect(input).toEqual({
      Namespace: NS,
      MetricData: [
        {
          MetricName: "BackupAgeSeconds",
          Unit: "Seconds",
          Value: daily.ageSeconds,
          Dimensions: [{ Name: "Tier", Value: "daily" }],
        },
        { MetricName: "DrillLastSuccessAgeSeconds", Unit: "Seconds", Value: expect.any(Number) },
      ],
    });
    // Rounded to the second, measured at the same instant as the status (within test jitter).
    expect(Math.abs(input.MetricData[1].Value - 10 * 86_400)).toBeLessThanOrEqual(5);
  });

  it("status publishes before exiting 2 on a breach, and --publish-metrics works without the variable", async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const { url } = fileStore();
    const r = await drctl(["status", "--store", url, "--publish-metrics"], {
      AWS_REGION: "eu-west-1",
    });
    expect(r.code).toBe(2);
    // No backup and no passing drill: no datapoint, which the alarms treat as breaching.
    expect(puts()).toEqual([]);

    const { dir, url: url2 } = fileStore();
    mkdirSync(join(dir, "reports"));
    writeFileSync(
      join(dir, "reports", "2020-01-01-20200101T060000Z-cccccc.json"),
      JSON.stringify({ passed: true, finishedAt: new Date(Date.now() - 3_600_000).toISOString() }),
    );
    const breached = await drctl(["status", "--store", url2, "--publish-metrics"], {
      AWS_REGION: "eu-west-1",
    });
    expect(breached.code).toBe(2);
    const [input] = puts() as {
      Namespace: string;
      MetricData: { MetricName: string; Value: number }[];
    }[];
    expect(input.Namespace).toBe(DEFAULT_METRICS_NAMESPACE);
    expect(input.MetricData.map((d) => d.MetricName)).toEqual(["DrillLastSuccessAgeSeconds"]);
    expect(Math.abs(input.MetricData[0].Value - 3600)).toBeLessThanOrEqual(5);
  });
});
