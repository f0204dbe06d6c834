import { parse, pick, STORE_OPTIONS, storeFrom, type Ctx } from "../cli";
import { formatAge, parseDuration } from "../duration";
import { EXIT } from "../errors";
import { isComplete, listTiers, type BackupEntry } from "../catalog";
import { isScheduledTier, PRE_RESTORE, SCHEDULED_TIERS, TIERS, type Tier } from "../manifest";
import { metricsTarget, publishMetrics, warn, type Datum } from "../metrics";
import { checkStore, StoreAccessDenied, type Store } from "../store";
import { DEFAULT_REPORT_DIR, lastPassingDrill } from "./drill";
import { lastPassingPitrTest } from "../pitr/pitrTest";

export const DEFAULT_MAX_AGE = "26h";

export interface TierStatus {
  readonly tier: Tier;
  readonly id?: string;
  readonly finishedAt?: string;
  readonly ageSeconds?: number;
  /**
   * Why the tier could not be listed (pre-restore only): the job identities may not list
   * `pre-restore/` (docs/backup-storage.md), and status runs as one of them.
   */
  readonly notListed?: string;
}

export interface StatusResult {
  readonly tiers: TierStatus[];
  /**
   * Age of the newest complete backup of any scheduled tier; undefined when there is none. A
   * pre-restore backup does not count: it would hide CronJobs that stopped.
   */
  readonly newestAgeSeconds?: number;
  readonly maxAgeSeconds: number;
  /** Backups whose manifest is there but cannot be trusted, with the reason. */
  readonly unreadable: { readonly tier: Tier; readonly id: string; readonly problem: string }[];
  /** True when there is no backup, the newest is older than maxAge, or any is unreadable: exit 2. */
  readonly breached: boolean;
}

/** The newest complete backup per tier and whether the freshest one meets the objective. */
export async function backupStatus(
  store: Store,
  maxAgeMs: number,
  now: Date = new Date(),
): Promise<StatusResult> {
  await checkStore(store);
  const entries: BackupEntry[] = await listTiers(store, SCHEDULED_TIERS);
  let notListed: string | undefined;
  try {
    entries.push(...(await listTiers(store, [PRE_RESTORE])));
  } catch (err) {
    // Only a denial is expected (the status CronJob's identity); anything else is a real failure.
    if (!(err instanceof StoreAccessDenied)) throw err;
    notListed = err.message;
  }
  const all = entries.filter(isComplete);
  const unreadable = entries
    .filter((e) => e.status === "unreadable")
    .map((e) => ({ tier: e.tier, id: e.id, problem: e.problem ?? "unreadable" }));
  const tiers: TierStatus[] = TIERS.map((tier) => {
    if (tier === PRE_RESTORE && notListed !== undefined) return { tier, notListed };
    const newest = all.filter((e) => e.tier === tier).pop();
    if (!newest) return { tier };
    return {
      tier,
      id: newest.id,
      finishedAt: newest.manifest.finishedAt,
      ageSeconds: Math.round((now.getTime() - newest.time.getTime()) / 1000),
    };
  });
  const ages = tiers.flatMap((t) =>
    t.ageSeconds === undefined || !isScheduledTier(t.tier) ? [] : [t.ageSeconds],
  );
  const newestAgeSeconds = ages.length ? Math.min(...ages) : undefined;
  const maxAgeSeconds = Math.round(maxAgeMs / 1000);
  return {
    tiers,
    newestAgeSeconds,
    maxAgeSeconds,
    unreadable,
    breached:
      newestAgeSeconds === undefined || newestAgeSeconds > maxAgeSeconds || unreadable.length > 0,
  };
}

/**
 * BackupAgeSeconds per scheduled tier that has a complete backup, and DrillLastSuccessAgeSeconds
 * when a passing drill report exists. A tier (or drill) with nothing is left without a datapoint:
 * the alarms treat missing data as breaching, so "none" pages like "too old". Pre-restore backups
 * are taken by people, not on a schedule: no alarm watches their age.
 */
export function statusData(
  r: StatusResult,
  lastDrillAgeSeconds?: number,
  lastPitrTestAgeSeconds?: number,
): Datum[] {
  const data: Datum[] = r.tiers.flatMap((t) =>
    t.ageSeconds === undefined || !isScheduledTier(t.tier)
      ? []
      : [{ metric: "backupAge" as const, tier: t.tier, value: t.ageSeconds }],
  );
  if (lastDrillAgeSeconds !== undefined) {
    data.push({ metric: "drillLastSuccessAge", value: lastDrillAgeSeconds });
  }
  if (lastPitrTestAgeSeconds !== undefined) {
    data.push({ metric: "pitrLastSuccessAge", value: lastPitrTestAgeSeconds });
  }
  return data;
}

export const STATUS_USAGE = `drctl status [--max-age DURATION] [--store URL] [--json] [--publish-metrics | --no-metrics]
Shows the newest complete backup per tier; exit 2 when the newest of the daily, weekly and
monthly ones is older than --max-age (DRCTL_MAX_AGE, default 26h; e.g. 30s, 15m, 26h, 7d), there
is none, or a manifest is unreadable. Pre-restore backups are shown but do not count.
With DRCTL_METRICS_NAMESPACE (or --publish-metrics) it also publishes the ages to CloudWatch,
before exiting, so the age alarms get a datapoint even when backups or drills stop.`;

export async function statusCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parse(
    "status",
    argv,
    {
      ...STORE_OPTIONS,
      "max-age": { type: "string" },
      json: { type: "boolean" },
      "publish-metrics": { type: "boolean" },
      "no-metrics": { type: "boolean" },
      "report-dir": { type: "string" },
    },
    false,
  );
  if (values.help) {
    ctx.out(STATUS_USAGE);
    return EXIT.ok;
  }
  const maxAge = parseDuration(
    pick(values, "max-age", ctx.env, "DRCTL_MAX_AGE") ?? DEFAULT_MAX_AGE,
    "--max-age",
  );
  const store = storeFrom(values, ctx.env);
  const now = new Date();
  const r = await backupStatus(store, maxAge, now);
  const target = metricsTarget(ctx.env, {
    noMetrics: values["no-metrics"] === true,
    publishMetrics: values["publish-metrics"] === true,
  });
  if (target) {
    let drillAge: number | undefined;
    try {
      const last = await lastPassingDrill(
        store,
        pick(values, "report-dir", ctx.env, "DRCTL_REPORT_DIR") ?? DEFAULT_REPORT_DIR,
      );
      if (last) drillAge = Math.round((now.getTime() - last.finishedAt.getTime()) / 1000);
    } catch (err) {
      warn(
        ctx.io.stderr,
        "status",
        `could not read drill reports from ${store.url} (${err instanceof Error ? err.message : String(err)}); ` +
          `DrillLastSuccessAgeSeconds is not published this run`,
      );
    }
    // The point-in-time tests run monthly; their age is re-published here, hourly, so the alarm
    // can look back 35 days (components/backups/rpoAlarms.ts).
    let pitrAge: number | undefined;
    try {
      const last = await lastPassingPitrTest(store);
      if (last) pitrAge = Math.round((now.getTime() - last.finishedAt.getTime()) / 1000);
    } catch (err) {
      warn(
        ctx.io.stderr,
        "status",
        `could not read point-in-time test reports from ${store.url} (${err instanceof Error ? err.message : String(err)}); ` +
          `PitrTestLastSuccessAgeSeconds is not published this run`,
      );
    }
    // Published before any exit, including a breach: that is when the age matters most.
    await publishMetrics(target, statusData(r, drillAge, pitrAge), ctx.io.stderr, "status");
  }
  if (values.json) {
    ctx.out(JSON.stringify(r, null, 2));
  } else {
    const width = Math.max(...TIERS.map((t) => t.length));
    for (const t of r.tiers) {
      ctx.out(
        t.notListed !== undefined
          ? `${t.tier.padEnd(width)} not listed: ${t.notListed}`
          : t.id
            ? `${t.tier.padEnd(width)} ${t.id}  finished ${t.finishedAt ?? ""}  age ${formatAge((t.ageSeconds ?? 0) * 1000)}`
            : `${t.tier.padEnd(width)} none`,
      );
    }
    for (const u of r.unreadable) ctx.out(`UNREADABLE ${u.tier}/${u.id}: ${u.problem}`);
    ctx.out(
      r.newestAgeSeconds === undefined
        ? `BREACHED: no complete backup in ${store.url}`
        : r.breached && r.newestAgeSeconds > r.maxAgeSeconds
          ? `BREACHED: newest backup is ${formatAge(r.newestAgeSeconds * 1000)} old, objective ${formatAge(r.maxAgeSeconds * 1000)}`
          : `${r.breached ? `BREACHED: ${r.unreadable.length} unreadable manifest(s); ` : "ok: "}newest backup is ${formatAge(r.newestAgeSeconds * 1000)} old, objective ${formatAge(r.maxAgeSeconds * 1000)}`,
    );
  }
  return r.breached ? EXIT.breached : EXIT.ok;
}
