import type { BackupClient } from "@aws-sdk/client-backup";
import { Client } from "pg";
import { parse, pick, str, type Ctx } from "../cli";
import { EXIT, UsageError, explain } from "../errors";
import { AWS_CALL_TIMEOUT_MS } from "../awsCalls";
import { awsPitrPort, type PitrAws } from "../pitr/aws";
import { lostWindow, readHeartbeat } from "../pitr/heartbeat";
import { pitrSource } from "../pitr/pitrTest";
import { resolveSource } from "./backup";

/**
 * `drctl rpo`: the data at risk, in seconds, published where the alarms read it (a CronJob runs it
 * every minute in each site's own cluster). Three gauges, each from this region alone, so they
 * still mean something when the peer's region is dark:
 *  - HeartbeatAgeSeconds: now − the newest heartbeat this site's database has (on a standby: the
 *    last one replayed, ≈ replication lag + the heartbeat interval while the primary lives);
 *  - PitrLatestRestorableAgeSeconds: now − LatestTime of the point-in-time history this region
 *    can restore from (the primary's own automated backups, or those replicated to the standby);
 *  - NewestCopyAgeSeconds: now − the newest AWS Backup copy in this site's vaults (where the
 *    peer's copy jobs land).
 * A gauge it cannot read is left without a datapoint (the alarms treat missing data as breaching)
 * and the run exits 1 after publishing the others. `--failed-at` prints the lost window instead.
 */

export const RPO_METRICS = {
  heartbeatAge: { name: "HeartbeatAgeSeconds", unit: "Seconds" },
  pitrLatestRestorableAge: { name: "PitrLatestRestorableAgeSeconds", unit: "Seconds" },
  newestCopyAge: { name: "NewestCopyAgeSeconds", unit: "Seconds" },
} as const;

export const RPO_USAGE = `drctl rpo [--instance ID --peer-instance-arn ARN] [--vault NAME ...] [--failed-at ISO]
            [--database-url URL] [--db-secret-arn ARN] [--no-metrics] [--json]
Publishes the data at risk in seconds: HeartbeatAgeSeconds (now - last heartbeat in drstack.heartbeat),
PitrLatestRestorableAgeSeconds and NewestCopyAgeSeconds (newest AWS Backup copy in the vaults).
--failed-at prints the lost window (failure time - last heartbeat replayed) and publishes nothing.
Env: AWS_REGION, DRCTL_PITR_INSTANCE, DRCTL_PITR_PEER_INSTANCE_ARN, DRCTL_RPO_VAULTS (JSON array),
PG*, DRCTL_DB_SECRET_ARN, DRCTL_METRICS_NAMESPACE. Exit 1 when a gauge could not be read.`;

export interface RpoPorts {
  readonly pitr: (region: string) => Promise<PitrAws>;
  /** The newest completed copy (a recovery point with a source vault) in `vault`. */
  readonly newestCopy: (region: string, vault: string) => Promise<Date | undefined>;
}

async function newestCopy(region: string, vault: string): Promise<Date | undefined> {
  const sdk = await import("@aws-sdk/client-backup");
  const client: BackupClient = new sdk.BackupClient({ region });
  try {
    let newest: Date | undefined;
    let next: string | undefined;
    do {
      const out = await client.send(
        new sdk.ListRecoveryPointsByBackupVaultCommand({ BackupVaultName: vault, NextToken: next }),
        { abortSignal: AbortSignal.timeout(AWS_CALL_TIMEOUT_MS) },
      );
      for (const p of out.RecoveryPoints ?? []) {
        // A copy names the vault it came from; the vault's own backups do not.
        // https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RecoveryPointByBackupVault.html
        if (p.SourceBackupVaultArn === undefined || p.Status !== "COMPLETED" || !p.CreationDate) {
          continue;
        }
        if (!newest || p.CreationDate > newest) newest = p.CreationDate;
      }
      next = out.NextToken;
    } while (next);
    return newest;
  } catch (err) {
    throw explain(err, `listing the recovery points of vault ${vault}`);
  } finally {
    client.destroy();
  }
}

const DEFAULT_PORTS: RpoPorts = { pitr: (region) => awsPitrPort(region), newestCopy };

export async function rpoCli(
  argv: string[],
  ctx: Ctx,
  ports: RpoPorts = DEFAULT_PORTS,
): Promise<number> {
  const { values } = parse(
    "rpo",
    argv,
    {
      help: { type: "boolean", short: "h" },
      instance: { type: "string" },
      "peer-instance-arn": { type: "string" },
      vault: { type: "string", multiple: true },
      "failed-at": { type: "string" },
      "database-url": { type: "string" },
      "db-secret-arn": { type: "string" },
      "no-metrics": { type: "boolean" },
      json: { type: "boolean" },
    },
    false,
  );
  if (values.help) {
    ctx.out(RPO_USAGE);
    return EXIT.ok;
  }
  const env = ctx.env;
  const failedAtText = str(values, "failed-at");
  const failedAt = failedAtText === undefined ? undefined : new Date(failedAtText);
  if (failedAt && Number.isNaN(failedAt.getTime())) {
    throw new UsageError(
      `--failed-at must be an ISO 8601 time such as 2026-12-05T08:00:00Z, got "${failedAtText}"`,
    );
  }
  const problems: string[] = [];
  const gauges: Record<string, number> = {};

  // The heartbeat, read with the backup login on this site's own database.
  const target = await resolveSource(values, env, ctx.sink);
  const client = new Client({ ...target.client, application_name: "drctl rpo" });
  client.on("error", () => undefined);
  let lastBeat: Date | null = null;
  try {
    await client.connect();
    const r = await readHeartbeat(client);
    lastBeat = r.lastBeat;
    if (r.ageSeconds === null) problems.push(`drstack.heartbeat on ${target.label} has no row yet`);
    else gauges.heartbeatAge = Math.max(0, Math.round(r.ageSeconds));
  } catch (err) {
    problems.push(
      `${explain(err, `reading drstack.heartbeat on ${target.label}`).message}; the one-time heartbeat ` +
        `SQL is in docs/first-deployment.md`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }

  if (failedAt) {
    if (!lastBeat)
      throw new UsageError(`no heartbeat to measure the lost window from: ${problems.join("; ")}`);
    const w = lostWindow(failedAt, lastBeat);
    ctx.out(
      values.json
        ? JSON.stringify({ lostWindow: w }, null, 2)
        : `lost window: ${w.from} .. ${w.to} (${w.seconds} s)`,
    );
    return EXIT.ok;
  }

  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const instance = pick(values, "instance", env, "DRCTL_PITR_INSTANCE");
  const peerArn = pick(values, "peer-instance-arn", env, "DRCTL_PITR_PEER_INSTANCE_ARN");
  const flagVaults = (values as Record<string, unknown>).vault as string[] | undefined;
  const vaults =
    flagVaults && flagVaults.length > 0
      ? flagVaults
      : env.DRCTL_RPO_VAULTS
        ? (JSON.parse(env.DRCTL_RPO_VAULTS) as string[])
        : [];
  const now = Date.now();
  if (region && instance && peerArn) {
    const aws = await ports.pitr(region);
    try {
      const { backup } = await pitrSource(aws, instance, peerArn);
      if (backup?.latest)
        gauges.pitrLatestRestorableAge = Math.max(
          0,
          Math.round((now - backup.latest.getTime()) / 1000),
        );
      else
        problems.push(
          `no automated backups with a restore window for ${instance} or ${peerArn} in ${region}`,
        );
    } catch (err) {
      problems.push(explain(err, "reading the automated backups").message);
    }
    const namespace =
      values["no-metrics"] === true ? undefined : env.DRCTL_METRICS_NAMESPACE || undefined;
    let newest: Date | undefined;
    for (const vault of vaults) {
      try {
        const d = await ports.newestCopy(region, vault);
        if (d && (!newest || d > newest)) newest = d;
      } catch (err) {
        problems.push(explain(err, `vault ${vault}`).message);
      }
    }
    if (newest) gauges.newestCopyAge = Math.max(0, Math.round((now - newest.getTime()) / 1000));
    else if (vaults.length > 0) problems.push(`no completed copy in ${vaults.join(", ")}`);
    const data = (Object.keys(gauges) as (keyof typeof RPO_METRICS)[]).map((k) => ({
      ...RPO_METRICS[k],
      value: gauges[k],
    }));
    try {
      if (namespace && data.length > 0) await aws.putMetrics(namespace, data);
    } catch (err) {
      problems.push(
        `publishing ${data.length} metric(s) to ${namespace}: ${explain(err, "PutMetricData").message}`,
      );
    } finally {
      aws.destroy();
    }
  }
  ctx.out(
    values.json
      ? JSON.stringify({ gauges, problems }, null, 2)
      : Object.entries(gauges)
          .map(([k, v]) => `${RPO_METRICS[k as keyof typeof RPO_METRICS].name} ${v}`)
          .join("\n"),
  );
  for (const p of problems) ctx.io.stderr.write(`drctl rpo: ${p}\n`);
  return problems.length > 0 ? EXIT.failed : EXIT.ok;
}
