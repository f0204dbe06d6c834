import { listBackups } from "../catalog";
import { parse, parseTier, STORE_OPTIONS, storeFrom, str, type Ctx } from "../cli";
import { formatAge, formatBytes } from "../duration";
import { EXIT } from "../errors";
import { TIERS } from "../manifest";

/** The TIER column fits the longest tier name, `pre-restore`. */
const TIER_WIDTH = Math.max(...TIERS.map((t) => t.length));

export const LIST_USAGE = `drctl list [--tier T] [--json] [--store URL]
Lists backups of every tier (daily, weekly, monthly, pre-restore), oldest first: id, tier,
finished, age, size, short sha256, status (complete, incomplete, unreadable: with the reason
below the table). A store whose directory or bucket does not exist is an error (exit 2).`;

export async function listCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parse(
    "list",
    argv,
    { ...STORE_OPTIONS, tier: { type: "string" }, json: { type: "boolean" } },
    false,
  );
  if (values.help) {
    ctx.out(LIST_USAGE);
    return EXIT.ok;
  }
  const tier = parseTier(str(values, "tier"));
  const store = storeFrom(values, ctx.env);
  const entries = await listBackups(store, { tier });
  const now = Date.now();
  const rows = entries.map((e) => ({
    id: e.id,
    tier: e.tier,
    status: e.status,
    finishedAt: e.manifest?.finishedAt ?? null,
    ageSeconds: Math.round((now - e.time.getTime()) / 1000),
    size: e.size,
    sha256: e.manifest?.dump.sha256 ?? null,
    compression: e.manifest?.compression ?? null,
    problem: e.problem ?? null,
  }));
  if (values.json) {
    ctx.out(JSON.stringify(rows, null, 2));
    return EXIT.ok;
  }
  if (rows.length === 0) {
    ctx.out(`no backups in ${store.url}`);
    return EXIT.ok;
  }
  ctx.out(
    [
      "ID".padEnd(23),
      "TIER".padEnd(TIER_WIDTH),
      "FINISHED".padEnd(24),
      "AGE".padEnd(8),
      "SIZE".padEnd(10),
      "SHA256".padEnd(12),
      "STATUS",
    ].join(" "),
  );
  for (const r of rows) {
    ctx.out(
      [
        r.id.padEnd(23),
        r.tier.padEnd(TIER_WIDTH),
        (r.finishedAt ?? "-").padEnd(24),
        formatAge(r.ageSeconds * 1000).padEnd(8),
        formatBytes(r.size).padEnd(10),
        (r.sha256?.slice(0, 12) ?? "-").padEnd(12),
        r.status,
      ].join(" "),
    );
  }
  // Unreadable manifests are listed with their reason: they are never restored or pruned, and a
  // person has to look at them.
  for (const r of rows.filter((x) => x.status === "unreadable")) {
    ctx.out(`unreadable ${r.tier}/${r.id}: ${r.problem ?? ""}`);
  }
  return EXIT.ok;
}
