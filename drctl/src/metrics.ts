import { parseArgs } from "node:util";
import type { CloudWatchClient, MetricDatum, StandardUnit } from "@aws-sdk/client-cloudwatch";
import type { Writable } from "node:stream";
import { storeFrom, type Ctx } from "./cli";
import { EXIT } from "./errors";
import { MANIFEST_FILE, backupPrefix, parseManifest, type Manifest, type Tier } from "./manifest";
import { readText } from "./store";

/**
 * The namespace the stack's alarms read (`naming.metricsNamespace` in components/naming.ts) and
 * the IAM condition `cloudwatch:namespace` allows; used when `--publish-metrics` is given without
 * DRCTL_METRICS_NAMESPACE.
 */
export const DEFAULT_METRICS_NAMESPACE = "DrStack/Backups";

/**
 * Metric names and units: the contract with the alarms in components/backups/alarms.ts (documented in
 * docs/backup-jobs.md). CloudWatch matches an alarm on name AND the exact set of dimensions, so
 * renaming one or adding a dimension silently starves its alarm.
 */
export const METRICS = {
  backupAge: { name: "BackupAgeSeconds", unit: "Seconds" },
  backupBytes: { name: "BackupBytes", unit: "Bytes" },
  backupDuration: { name: "BackupDurationSeconds", unit: "Seconds" },
  drillSuccess: { name: "DrillSuccess", unit: "Count" },
  drillRestoreDuration: { name: "DrillRestoreDurationSeconds", unit: "Seconds" },
  drillBackupAge: { name: "DrillBackupAgeSeconds", unit: "Seconds" },
  drillLastSuccessAge: { name: "DrillLastSuccessAgeSeconds", unit: "Seconds" },
  /** drctl/src/pitr/pitrTest.ts PITR_METRICS.lastSuccessAge: re-published hourly by status. */
  pitrLastSuccessAge: { name: "PitrTestLastSuccessAgeSeconds", unit: "Seconds" },
} as const satisfies Record<string, { name: string; unit: StandardUnit }>;

export type MetricKind = keyof typeof METRICS;

export interface Datum {
  readonly metric: MetricKind;
  readonly value: number;
  /** Only `Tier`, and only on the backup metrics: the alarms match this exact set. */
  readonly tier?: Tier;
}

/** A PutMetricData that hangs (no route to the endpoint) must not hold a backup job open. */
const PUT_TIMEOUT_MS = 15_000;

export interface MetricsTarget {
  readonly namespace: string;
  readonly region?: string;
}

/**
 * Whether and where to publish: DRCTL_METRICS_NAMESPACE turns it on, `--publish-metrics` forces it
 * (with the default namespace when the variable is unset), `--no-metrics` wins over both.
 */
export function metricsTarget(
  env: NodeJS.ProcessEnv,
  flags: { readonly noMetrics?: boolean; readonly publishMetrics?: boolean } = {},
): MetricsTarget | undefined {
  if (flags.noMetrics) return undefined;
  const fromEnv = env.DRCTL_METRICS_NAMESPACE;
  const namespace =
    fromEnv !== undefined && fromEnv !== ""
      ? fromEnv
      : flags.publishMetrics
        ? DEFAULT_METRICS_NAMESPACE
        : undefined;
  if (namespace === undefined) return undefined;
  return { namespace, region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION };
}

/** The PutMetricData input for `data`; exported so tests and docs agree on the exact shape. */
export function metricData(data: readonly Datum[]): MetricDatum[] {
  return data.map((d) => ({
    MetricName: METRICS[d.metric].name,
    Unit: METRICS[d.metric].unit,
    Value: d.value,
    ...(d.tier ? { Dimensions: [{ Name: "Tier", Value: d.tier }] } : {}),
  }));
}

/**
 * Writes a warning for a person (TTY) or a log collector (one JSON line, like the progress events).
 * Not an `error` event: the operation itself succeeded.
 */
export function warn(stderr: Writable, op: string, message: string): void {
  if ((stderr as Writable & { isTTY?: boolean }).isTTY === true) {
    stderr.write(`drctl ${op}: warning: ${message}\n`);
  } else {
    stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), event: "warning", op, message })}\n`,
    );
  }
}

/**
 * Publishes `data` in one PutMetricData call. Never throws: a refused or unreachable CloudWatch
 * is a warning on stderr, because a metrics outage must not fail the backup it describes (the
 * missing datapoints make the age alarms fire instead). Returns whether the call succeeded.
 */
export async function publishMetrics(
  target: MetricsTarget | undefined,
  data: readonly Datum[],
  stderr: Writable,
  op: string,
): Promise<boolean> {
  if (!target || data.length === 0) return false;
  let client: CloudWatchClient | undefined;
  try {
    // Loaded only when publishing: runs without metrics (and the CLI's start-up) do not pay for
    // the CloudWatch client.
    const { CloudWatchClient, PutMetricDataCommand } = await import("@aws-sdk/client-cloudwatch");
    client = new CloudWatchClient(target.region ? { region: target.region } : {});
    await client.send(
      new PutMetricDataCommand({ Namespace: target.namespace, MetricData: metricData(data) }),
      { abortSignal: AbortSignal.timeout(PUT_TIMEOUT_MS) },
    );
    return true;
  } catch (err) {
    const e = err as { name?: string; message?: string };
    warn(
      stderr,
      op,
      `publishing ${data.length} metric(s) to CloudWatch namespace ${target.namespace} failed ` +
        `(${e.name ?? "Error"}: ${e.message ?? String(err)}); the ${op} itself is unaffected. ` +
        `Check cloudwatch:PutMetricData for this namespace in the role's policy and the network ` +
        `path to monitoring.${target.region ?? "<region>"}.amazonaws.com`,
    );
    return false;
  } finally {
    client?.destroy();
  }
}

/** BackupAgeSeconds 0, BackupBytes and BackupDurationSeconds of a just-committed backup. */
export function backupData(m: Manifest): Datum[] {
  const seconds = (Date.parse(m.finishedAt) - Date.parse(m.startedAt)) / 1000;
  return [
    { metric: "backupAge", tier: m.tier, value: 0 },
    { metric: "backupBytes", tier: m.tier, value: m.dump.size },
    { metric: "backupDuration", tier: m.tier, value: seconds },
  ];
}

type CliCommand = (argv: string[], ctx: Ctx) => Promise<number>;

/**
 * Wraps `drctl backup` so that, after it committed a backup, the backup's metrics are published:
 * the command prints only the new id on stdout, and the committed manifest (one GetObject) is
 * the source of tier, size and duration. `--no-metrics` is taken out of argv here so the backup
 * command itself stays unaware of metrics.
 */
export function withBackupMetrics(backup: CliCommand): CliCommand {
  return async (argv, ctx) => {
    const noMetrics = argv.includes("--no-metrics");
    const rest = argv.filter((a) => a !== "--no-metrics");
    const target = metricsTarget(ctx.env, { noMetrics });
    if (!target || rest.includes("--help") || rest.includes("-h")) return backup(rest, ctx);
    const printed: string[] = [];
    const code = await backup(rest, {
      ...ctx,
      out: (line) => {
        printed.push(line);
        ctx.out(line);
      },
    });
    const id = printed.at(-1)?.trim();
    if (code !== EXIT.ok || !id) return code;
    let manifest: Manifest;
    try {
      // argv was already validated strictly by the backup command; this only reads its values.
      const { values } = parseArgs({
        args: rest,
        options: {
          store: { type: "string" },
          "s3-endpoint": { type: "string" },
          tier: { type: "string" },
        },
        strict: false,
        allowPositionals: true,
      });
      const store = storeFrom(values, ctx.env);
      const tierValue = values.tier;
      const tier = (typeof tierValue === "string" ? tierValue : ctx.env.DRCTL_TIER) as Tier;
      const key = `${backupPrefix(tier, id)}${MANIFEST_FILE}`;
      manifest = await parseManifest(await readText(store, key), key);
    } catch (err) {
      warn(
        ctx.io.stderr,
        "backup",
        `backup ${id} is committed, but its manifest could not be read back for metrics ` +
          `(${err instanceof Error ? err.message : String(err)}); no metrics were published`,
      );
      return code;
    }
    await publishMetrics(target, backupData(manifest), ctx.io.stderr, "backup");
    return code;
  };
}
