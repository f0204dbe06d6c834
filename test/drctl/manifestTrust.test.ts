import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { MANIFEST_SIZE_CAP } from "../../drctl/src/manifest";
import { drctl, idAt } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * A manifest is trusted only where it lies, when it parses, under a size cap and with real times
 * (issue 14, item 4). Each bad one is "unreadable": listed with its reason, counted by status
 * (exit 2), never pruned, and it never breaks list, status or verify of the good backups.
 */
let cluster: LocalCluster;
let work: string;
let dir: string;
let store: string;
let good: string;

const DAY = 86_400_000;

/** Copies the good backup to `tier/id` with its manifest changed by `edit`. */
function clone(tier: string, id: string, edit: (m: Record<string, unknown>) => unknown): string {
  const to = join(dir, tier, id);
  cpSync(join(dir, "daily", good), to, { recursive: true });
  const m = JSON.parse(readFileSync(join(to, "manifest.json"), "utf8")) as Record<string, unknown>;
  const edited = edit({ ...m, id, tier });
  writeFileSync(
    join(to, "manifest.json"),
    typeof edited === "string" ? edited : JSON.stringify(edited),
  );
  return to;
}

const misplaced = idAt(2 * DAY, "a00001");
const futureFormat = idAt(3 * DAY, "a00002");
const notJson = idAt(4 * DAY, "a00003");
const oversized = idAt(5 * DAY, "a00004");
const in2099 = idAt(6 * DAY, "a00005");
const yesterday = idAt(7 * DAY, "a00006");
const afterWritten = idAt(8 * DAY, "a00007");

beforeAll(async () => {
  cluster = await startCluster();
  const db = await createDatabase(cluster, "trust");
  await sql(cluster, db, "create table t as select generate_series(1, 50) as n");
  work = mkdtempSync(join(tmpdir(), "drctl-trust-"));
  dir = join(work, "store");
  store = pathToFileURL(dir).href;
  const r = await drctl([
    "backup",
    "--tier",
    "daily",
    "--store",
    store,
    "--database-url",
    cluster.url(db),
  ]);
  expect(r.code).toBe(0);
  good = r.stdout.trim();
  // A daily/ manifest that says it is the weekly backup: trusted, it made restore read weekly/.
  clone("daily", misplaced, (m) => ({ ...m, tier: "weekly" }));
  clone("daily", futureFormat, (m) => ({ ...m, formatVersion: 99 }));
  clone("daily", notJson, () => "{ not json");
  const big = clone("daily", oversized, (m) => m);
  truncateSync(join(big, "manifest.json"), MANIFEST_SIZE_CAP + 1);
  clone("daily", in2099, (m) => ({ ...m, finishedAt: "2099-01-01T00:00:00.000Z" }));
  clone("daily", yesterday, (m) => ({ ...m, finishedAt: "yesterday" }));
  // Claims to have finished now, but its object was written a week ago: it lies about its age.
  const old = clone("daily", afterWritten, (m) => ({ ...m, finishedAt: new Date().toISOString() }));
  const week = new Date(Date.now() - 7 * DAY);
  utimesSync(join(old, "manifest.json"), week, week);
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

const REASONS: Record<string, (id: string) => string> = {
  [misplaced]: (id) =>
    `manifest daily/${id}/manifest.json describes weekly/${id}, not the backup whose key it lies under`,
  [futureFormat]: (id) =>
    `manifest daily/${id}/manifest.json is format 99, newer than this drctl reads (2); use a newer drctl`,
  [notJson]: (id) => `manifest daily/${id}/manifest.json is not valid JSON`,
  [oversized]: (id) =>
    `manifest daily/${id}/manifest.json is ${MANIFEST_SIZE_CAP + 1} bytes, over the ${MANIFEST_SIZE_CAP}-byte cap; not read`,
  [in2099]: (id) =>
    `manifest daily/${id}/manifest.json says it finished in the future (2099-01-01T00:00:00.000Z)`,
  [yesterday]: (id) =>
    `manifest daily/${id}/manifest.json does not match format 2 (finishedAt: expected an ISO 8601 UTC time)`,
};

describe("manifests that cannot be trusted", () => {
  it("list shows each as unreadable with its reason, beside the good backup", async () => {
    const r = await drctl(["list", "--json", "--store", store]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { id: string; status: string; problem: string | null }[];
    const byId = new Map(rows.map((x) => [x.id, x]));
    expect(byId.get(good)).toMatchObject({ status: "complete", problem: null });
    for (const [id, reason] of Object.entries(REASONS)) {
      expect(byId.get(id)).toEqual(
        expect.objectContaining({ status: "unreadable", problem: reason(id) }),
      );
    }
    expect(byId.get(afterWritten)?.status).toBe("unreadable");
    expect(byId.get(afterWritten)?.problem).toMatch(
      new RegExp(
        `^manifest daily/${afterWritten}/manifest\\.json says it finished at \\S+, after the store wrote it \\(\\S+\\)$`,
      ),
    );
    const text = await drctl(["list", "--store", store]);
    expect(text.stdout).toContain(
      `unreadable daily/${notJson}: manifest daily/${notJson}/manifest.json is not valid JSON\n`,
    );
  });

  it("status counts them and exits 2 although the newest backup is fresh", async () => {
    const r = await drctl(["status", "--max-age", "1h", "--store", store]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`UNREADABLE daily/${misplaced}: ${REASONS[misplaced](misplaced)}\n`);
    expect(r.stdout).toMatch(
      /\nBREACHED: 7 unreadable manifest\(s\); newest backup is \d+s old, objective 1h0m\n$/,
    );
    const json = JSON.parse((await drctl(["status", "--json", "--store", store])).stdout) as {
      unreadable: unknown[];
      tiers: { tier: string; id?: string }[];
    };
    expect(json.unreadable).toHaveLength(7);
    expect(json.tiers.find((t) => t.tier === "daily")?.id).toBe(good);
    // A future finishedAt can no longer make the age negative: the good backup is the newest.
    expect(json.tiers.find((t) => t.tier === "weekly")?.id).toBeUndefined();
  });

  it("restore refuses a misplaced manifest instead of reading another tier's dump", async () => {
    const r = await drctl([
      "restore",
      misplaced,
      "--store",
      store,
      "--target-url",
      cluster.url("postgres"),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `drctl restore: backup ${misplaced} is unreadable (${REASONS[misplaced](misplaced)}); pick a complete one from drctl list\n`,
    );
  });

  it("verify --all fails each unreadable one and still verifies the good backup", async () => {
    const r = await drctl(["verify", "--all", "--store", store]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      `FAILED  daily/${notJson}  manifest unreadable: ${REASONS[notJson](notJson)}\n`,
    );
    expect(r.stdout).toMatch(
      new RegExp(`\\nok      daily/${good}  \\d+ bytes  sha256 [0-9a-f]{12}\\n`),
    );
  });

  it("prune keeps every unreadable backup and its dump, even past retention", async () => {
    const r = await drctl(["prune", "--store", store], { DRCTL_RETENTION_DAILY: "1" });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("deleted 0 backup(s), kept 8\n");
    for (const id of [...Object.keys(REASONS), afterWritten]) {
      expect(existsSync(join(dir, "daily", id, "dump"))).toBe(true);
    }
    expect(statSync(join(dir, "daily", oversized, "manifest.json")).size).toBe(
      MANIFEST_SIZE_CAP + 1,
    );
  });
});
