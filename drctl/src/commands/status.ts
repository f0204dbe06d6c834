import { parse, pick, STORE_OPTIONS, storeFrom, type Ctx } from "../cli";
import { formatAge, parseDuration } from "../duration";
import { EXIT } from "../errors";
import { isComplete, listBackups } from "../catalog";
import { TIERS, type Tier } from "../manifest";
import type { Store } from "../store";

export const DEFAULT_MAX_AGE = "26h";

export interface TierStatus {
  readonly tier: Tier;
  readonly id?: string;
  readonly finishedAt?: string;
  readonly ageSeconds?: number;
}

export interface StatusResult {
  readonly tiers: TierStatus[];
  /** Age of the newest complete backup in any tier; undefined when there is none. */
  readonly newestAgeSeconds?: number;
  readonly maxAgeSeconds: number;
  /** True when there is no backup, or the newest is older than maxAge: exit 2. */
  readonly breached: boolean;
}

/** The newest complete backup per tier and whether the freshest one meets the objective. */
export async function backupStatus(
  store: Store,
  maxAgeMs: number,
  now: Date = new Date(),
): Promise<StatusResult> {
  const all = (await listBackups(store)).filter(isComplete);
  const tiers: TierStatus[] = TIERS.map((tier) => {
    const newest = all.filter((e) => e.tier === tier).pop();
    if (!newest) return { tier };
    return {
      tier,
      id: newest.id,
      finishedAt: newest.manifest.finishedAt,
      ageSeconds: Math.round((now.getTime() - newest.time.getTime()) / 1000),
    };
  });
  const ages = tiers.flatMap((t) => (t.ageSeconds === undefined ? [] : [t.ageSeconds]));
  const newestAgeSeconds = ages.length ? Math.min(...ages) : undefined;
  const maxAgeSeconds = Math.round(maxAgeMs / 1000);
  return {
    tiers,
    newestAgeSeconds,
    maxAgeSeconds,
    breached: newestAgeSeconds === undefined || newestAgeSeconds > maxAgeSeconds,
  };
}

export const STATUS_USAGE = `drctl status [--max-age DURATION] [--store URL] [--json]
Shows the newest complete backup per tier; exit 2 when the newest of all is older than
--max-age (DRCTL_MAX_AGE, default 26h; e.g. 30s, 15m, 26h, 7d) or there is none.`;

export async function statusCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parse(
    "status",
    argv,
    { ...STORE_OPTIONS, "max-age": { type: "string" }, json: { type: "boolean" } },
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
  const r = await backupStatus(store, maxAge);
  if (values.json) {
    ctx.out(JSON.stringify(r, null, 2));
  } else {
    for (const t of r.tiers) {
      ctx.out(
        t.id
          ? `${t.tier.padEnd(8)} ${t.id}  finished ${t.finishedAt ?? ""}  age ${formatAge((t.ageSeconds ?? 0) * 1000)}`
          : `${t.tier.padEnd(8)} none`,
      );
    }
    ctx.out(
      r.newestAgeSeconds === undefined
        ? `BREACHED: no complete backup in ${store.url}`
        : r.breached
          ? `BREACHED: newest backup is ${formatAge(r.newestAgeSeconds * 1000)} old, objective ${formatAge(r.maxAgeSeconds * 1000)}`
          : `ok: newest backup is ${formatAge(r.newestAgeSeconds * 1000)} old, objective ${formatAge(r.maxAgeSeconds * 1000)}`,
    );
  }
  return r.breached ? EXIT.breached : EXIT.ok;
}
