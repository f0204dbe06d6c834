import { describe, expect, it } from "vitest";
import { ROLES } from "../../components/config";
import { dashboardBody, validateSiteDashboardArgs } from "../../components/observability/dashboard";
import { runStack } from "../harness";

const DASHBOARD = "aws:cloudwatch/dashboard:Dashboard";

interface Widget {
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, any>;
}

async function widgets(stack: "primary" | "dr", role?: (typeof ROLES)[number]) {
  const run = await runStack(stack, role ? { role } : {});
  const d = run.one(DASHBOARD);
  return {
    run,
    inputs: d.inputs,
    widgets: JSON.parse(String(d.inputs.dashboardBody)).widgets as Widget[],
  };
}

/** The metric widgets by their metric name and first dimension value. */
function byMetric(ws: Widget[]): Record<string, Widget> {
  return Object.fromEntries(
    ws
      .filter((w) => w.type === "metric")
      .map((w) => {
        const m = w.properties.metrics[0] as string[];
        return [`${m[1]}${m[3] ? `:${m[3]}` : ""}`, w];
      }),
  );
}

describe("the site dashboard", () => {
  it("lives in the site's region, named from naming, and draws every alarmed DR signal", async () => {
    const { run, inputs, widgets: ws } = await widgets("primary");
    expect(inputs.region).toBe("us-east-1");
    expect(inputs.dashboardName).toBe("acme-dr-use1-dr");
    expect(run.outputs.dashboardName).toBe("acme-dr-use1-dr");
    const m = byMetric(ws);
    // Backup age of the daily tier, with the 26 h threshold of the alarm in seconds.
    expect(m["BackupAgeSeconds:daily"]?.properties).toMatchObject({
      region: "us-east-1",
      metrics: [["DrStack/Backups", "BackupAgeSeconds", "Tier", "daily"]],
      stat: "Maximum",
      period: 3600,
      annotations: { horizontal: [{ label: "alarm: backup-age-daily", value: 93600 }] },
    });
    expect(m["ReplicaLag:acme-dr-use1-pg"]?.properties).toMatchObject({
      metrics: [["AWS/RDS", "ReplicaLag", "DBInstanceIdentifier", "acme-dr-use1-pg"]],
      annotations: { horizontal: [{ value: 60 }] },
    });
    // Route 53 publishes health-check metrics only in us-east-1: that graph reads them there.
    const health = Object.values(m).find((w) => w.properties.metrics[0][1] === "HealthCheckStatus");
    expect(health?.properties.region).toBe("us-east-1");
    expect(Object.keys(m).sort()).toEqual(
      expect.arrayContaining([
        "DrillLastSuccessAgeSeconds",
        "DrillSuccess",
        "OperationsFailedReplication:acme-dr-use1-backups-111122223333",
        "ReplicationLatency:acme-dr-use1-backups-111122223333",
      ]),
    );
  });

  it("is the same in every role of a stack: a failover changes no dashboard", async () => {
    const bodies = new Set<string>();
    for (const role of ROLES) bodies.add(String((await widgets("dr", role)).inputs.dashboardBody));
    expect(bodies.size).toBe(1);
  });

  it("lays graphs two to a row below the heading", () => {
    const spec = {
      key: "k",
      description: "d",
      namespace: "N",
      metricName: "M",
      statistic: "Maximum" as const,
      period: 60,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "GreaterThanThreshold" as const,
      threshold: 5,
      treatMissingData: "breaching" as const,
      actionsEnabled: true,
    };
    const body = JSON.parse(
      dashboardBody(
        "# h",
        [0, 1, 2].map(() => ({ spec, region: "us-west-2" })),
      ),
    ) as { widgets: Widget[] };
    expect(body.widgets.map((w) => [w.type, w.x, w.y, w.width])).toEqual([
      ["text", 0, 0, 24],
      ["metric", 0, 2, 12],
      ["metric", 12, 2, 12],
      ["metric", 0, 8, 12],
    ]);
  });

  it("refuses a name CloudWatch refuses", () => {
    expect(() =>
      validateSiteDashboardArgs({
        region: "us-east-1",
        dashboardName: "a b",
        heading: "",
        signals: [],
      }),
    ).toThrow('[dashboardName] must be 1-255 characters of A-Z, a-z, 0-9, - and _, got "a b"');
  });
});
