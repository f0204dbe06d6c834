import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { AlarmSpec } from "../backups/alarms";

/** One graph of the dashboard: an alarmed signal, drawn with its alarm's threshold. */
export interface DashboardSignal {
  /** The alarm whose metric, statistic, period and threshold the graph shows. */
  readonly spec: AlarmSpec;
  /** The region the metric is published in. @default the dashboard's region */
  readonly region?: string;
}

export interface SiteDashboardArgs {
  /** The site's region: the dashboard lives there, beside the metrics it reads. */
  readonly region: string;
  /** The dashboard's name (`<name>-<site>-dr`). */
  readonly dashboardName: string;
  /** What a heading line says about the site (its name, role and region). */
  readonly heading: string;
  /** The signals to draw, in order: two graphs to a row. */
  readonly signals: readonly DashboardSignal[];
}

/** A signal with its dimensions resolved, as the body is written. */
export interface ResolvedSignal {
  readonly spec: Omit<AlarmSpec, "dimensions"> & { readonly dimensions?: Record<string, string> };
  readonly region: string;
}

const WIDTH = 12;
const HEIGHT = 6;

/**
 * The dashboard body: a text heading, then one metric widget per signal with the alarm's
 * threshold as a horizontal annotation, two to a row. The format is CloudWatch's "Dashboard Body
 * Structure and Syntax": metric arrays are `[namespace, name, dimName, dimValue, …]`, and a
 * metric widget takes `period`, `stat`, `region`, `title` and `annotations.horizontal`.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
 */
export function dashboardBody(heading: string, signals: readonly ResolvedSignal[]): string {
  const widgets: unknown[] = [
    { type: "text", x: 0, y: 0, width: 24, height: 2, properties: { markdown: heading } },
  ];
  signals.forEach((s, i) => {
    const dims = Object.entries(s.spec.dimensions ?? {}).flat();
    widgets.push({
      type: "metric",
      x: (i % 2) * WIDTH,
      y: 2 + Math.floor(i / 2) * HEIGHT,
      width: WIDTH,
      height: HEIGHT,
      properties: {
        title: s.spec.description,
        region: s.region,
        metrics: [[s.spec.namespace, s.spec.metricName, ...dims]],
        stat: s.spec.statistic,
        period: s.spec.period,
        view: "timeSeries",
        annotations: {
          horizontal: [{ label: `alarm: ${s.spec.key}`, value: s.spec.threshold }],
        },
      },
    });
  });
  return JSON.stringify({ widgets });
}

/** Validates the args; messages name the argument. */
export function validateSiteDashboardArgs(args: SiteDashboardArgs): void {
  // PutDashboard: "up to 255 characters", A-Z, a-z, 0-9, "-" and "_".
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(args.dashboardName)) {
    throw new Error(
      `[dashboardName] must be 1-255 characters of A-Z, a-z, 0-9, - and _, got "${args.dashboardName}"`,
    );
  }
  if (args.signals.length === 0) throw new Error("[signals] must name at least one signal");
}

/**
 * The site's DR signals on one CloudWatch dashboard in its own region: backup age, drill age and
 * result, replica lag, replication, restore tests — the metrics the site's alarms watch, each with
 * its alarm's threshold, so what pages someone is what they see.
 */
export class SiteDashboard extends pulumi.ComponentResource {
  public readonly dashboardName: pulumi.Output<string>;
  public readonly dashboardArn: pulumi.Output<string>;

  constructor(name: string, args: SiteDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:observability:SiteDashboard", name, {}, opts);
    validateSiteDashboardArgs(args);
    const resolved = pulumi
      .all(args.signals.map((s) => pulumi.output(s.spec.dimensions ?? {})))
      .apply((dims) =>
        args.signals.map((s, i): ResolvedSignal => ({
          spec: { ...s.spec, dimensions: dims[i] },
          region: s.region ?? args.region,
        })),
      );
    const dashboard = new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      {
        region: args.region,
        dashboardName: args.dashboardName,
        dashboardBody: resolved.apply((signals) => dashboardBody(args.heading, signals)),
      },
      { parent: this },
    );
    this.dashboardName = dashboard.dashboardName;
    this.dashboardArn = dashboard.dashboardArn;
    this.registerOutputs({ dashboardName: this.dashboardName, dashboardArn: this.dashboardArn });
  }
}
