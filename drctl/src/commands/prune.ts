import { parse, STORE_OPTIONS, storeFrom, type Ctx } from "../cli";
import { EXIT, UsageError } from "../errors";
import { isComplete, listBackups, type BackupEntry } from "../catalog";
import { isScheduledTier, MANIFEST_FILE, TIERS, type Tier } from "../manifest";
import { silentSink, type EventSink } from "../progress";
import type { Store } from "../store";

export const DEFAULT_RETENTION_DAYS: Readonly<Record<Tier, number>> = {
  daily: 7,
  weekly: 28,
  monthly: 365,
  // The bucket's lifecycle keeps them as long (dr-stack:storage.retentionDays.preRestore).
  "pre-restore": 7,
};

/** An incomplete backup younger than this may still be running, so prune leaves it alone. */
export const INCOMPLETE_GRACE_MS = 24 * 3_600_000;

export interface PruneOptions {
  readonly store: Store;
  /** Days to keep per tier. @default DEFAULT_RETENTION_DAYS (7 / 28 / 365, pre-restore 7) */
  readonly retentionDays?: Partial<Record<Tier, number>>;
  readonly dryRun?: boolean;
  /** @default new Date() */
  readonly now?: Date;
  readonly sink?: EventSink;
}

export interface PruneDecision {
  readonly id: string;
  readonly tier: Tier;
  readonly status: BackupEntry["status"];
  readonly reason: string;
}

export interface PruneResult {
  readonly deleted: PruneDecision[];
  readonly kept: number;
  readonly dryRun: boolean;
}

/**
 * Applies the tier retentions on a store that has no lifecycle rules (a file store, or a bucket
 * without them). The newest complete backup of a scheduled tier is never deleted, however old: an
 * old backup is better than none. A pre-restore backup is an undo window, not the recovery line,
 * so it goes at its retention like any other, as the bucket's lifecycle rule expires it.
 * Incomplete backups go after a day.
 */
export async function pruneBackups(options: PruneOptions): Promise<PruneResult> {
  const now = (options.now ?? new Date()).getTime();
  const retention = { ...DEFAULT_RETENTION_DAYS, ...options.retentionDays };
  const sink = options.sink ?? silentSink;
  const dryRun = options.dryRun ?? false;
  const all = await listBackups(options.store);
  const doomed: { entry: BackupEntry; reason: string }[] = [];
  for (const tier of TIERS) {
    const entries = all.filter((e) => e.tier === tier);
    const complete = entries.filter(isComplete);
    const newest = isScheduledTier(tier) ? complete[complete.length - 1] : undefined;
    const keepMs = retention[tier] * 86_400_000;
    for (const e of entries) {
      // An unreadable manifest may describe the only good dump of its tier (a newer drctl's
      // format, a damaged file): prune deletes only what it can account for.
      if (e === newest || e.status === "unreadable") continue;
      if (e.status === "incomplete") {
        if (now - e.lastModified.getTime() > INCOMPLETE_GRACE_MS) {
          doomed.push({ entry: e, reason: "incomplete for more than a day" });
        }
      } else if (now - e.time.getTime() > keepMs) {
        doomed.push({ entry: e, reason: `older than ${retention[tier]} days` });
      }
    }
  }
  sink({ event: "start", op: "prune", candidates: doomed.length, dryRun });
  const started = Date.now();
  if (!dryRun) {
    for (const { entry } of doomed) {
      // Manifest first: an interrupted prune then leaves an incomplete backup, never a
      // "complete" one whose dump is gone.
      const manifest = entry.keys.filter((k) => k.endsWith(`/${MANIFEST_FILE}`));
      for (const key of [...manifest, ...entry.keys.filter((k) => !manifest.includes(k))]) {
        await options.store.delete(key);
      }
    }
  }
  sink({
    event: "done",
    op: "prune",
    seconds: (Date.now() - started) / 1000,
    deleted: doomed.length,
  });
  return {
    deleted: doomed.map(({ entry, reason }) => ({
      id: entry.id,
      tier: entry.tier,
      status: entry.status,
      reason,
    })),
    kept: all.length - doomed.length,
    dryRun,
  };
}

export const PRUNE_USAGE = `drctl prune [--dry-run] [--store URL] [--json]
Deletes backups past their tier's retention (DRCTL_RETENTION_DAILY/WEEKLY/MONTHLY/PRE_RESTORE
days, default 7/28/365/7) and incomplete ones older than a day; keeps the newest complete one of
each scheduled tier and every backup whose manifest is unreadable.`;

/** DRCTL_RETENTION_DAILY … DRCTL_RETENTION_PRE_RESTORE: environment names have no `-`. */
export function retentionEnvName(tier: Tier): string {
  return `DRCTL_RETENTION_${tier.toUpperCase().replace(/-/g, "_")}`;
}

function retentionFrom(env: NodeJS.ProcessEnv): Partial<Record<Tier, number>> {
  const out: Partial<Record<Tier, number>> = {};
  for (const tier of TIERS) {
    const name = retentionEnvName(tier);
    const v = env[name];
    if (v === undefined || v === "") continue;
    if (!/^\d+$/.test(v) || Number(v) < 1) {
      throw new UsageError(`${name} must be a whole number of days of at least 1, got "${v}"`);
    }
    out[tier] = Number(v);
  }
  return out;
}

export async function pruneCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parse(
    "prune",
    argv,
    { ...STORE_OPTIONS, "dry-run": { type: "boolean" }, json: { type: "boolean" } },
    false,
  );
  if (values.help) {
    ctx.out(PRUNE_USAGE);
    return EXIT.ok;
  }
  const retentionDays = retentionFrom(ctx.env);
  const store = storeFrom(values, ctx.env);
  const r = await pruneBackups({
    store,
    retentionDays,
    dryRun: values["dry-run"] === true,
    sink: ctx.sink,
  });
  if (values.json) {
    ctx.out(JSON.stringify(r, null, 2));
    return EXIT.ok;
  }
  const verb = r.dryRun ? "would delete" : "deleted";
  for (const d of r.deleted) ctx.out(`${verb} ${d.tier}/${d.id} (${d.status}, ${d.reason})`);
  ctx.out(`${verb} ${r.deleted.length} backup(s), kept ${r.kept}`);
  return EXIT.ok;
}
