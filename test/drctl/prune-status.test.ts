import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { parseDuration } from "../../drctl/src/duration";
import { drctl, idAt } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";

const DAY = 86_400_000;

let cluster: LocalCluster;
let work: string;
let dbUrl: string;

beforeAll(async () => {
  cluster = await startCluster();
  const db = await createDatabase(cluster, "prune");
  await sql(cluster, db, "create table t as select generate_series(1, 100) as n");
  dbUrl = cluster.url(db);
  work = mkdtempSync(join(tmpdir(), "drctl-prune-"));
});

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

/** Copies a real backup under a new id and tier whose manifest says it finished `ago` ms ago. */
function cloneBackup(dir: string, from: string, tier: string, id: string, ago: number): void {
  const target = join(dir, tier, id);
  cpSync(join(dir, "daily", from), target, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(target, "manifest.json"), "utf8")) as Record<
    string,
    unknown
  >;
  const at = new Date(Date.now() - ago).toISOString();
  writeFileSync(
    join(target, "manifest.json"),
    JSON.stringify({ ...manifest, id, tier, startedAt: at, finishedAt: at }),
  );
}

describe("prune and status", () => {
  let dir: string;
  let store: string;
  let fresh: string;
  const old10 = idAt(10 * DAY, "aaaaaa");
  const old8 = idAt(8 * DAY, "bbbbbb");
  const oldWeekly = idAt(100 * DAY, "cccccc");
  const staleIncomplete = idAt(3 * DAY, "dddddd");
  const runningIncomplete = idAt(60_000, "eeeeee");

  beforeAll(async () => {
    dir = mkdtempSync(join(work, "store-"));
    store = pathToFileURL(dir).href;
    const r = await drctl(["backup", "--tier", "daily", "--store", store, "--database-url", dbUrl]);
    expect(r.code).toBe(0);
    fresh = r.stdout.trim();
    cloneBackup(dir, fresh, "daily", old10, 10 * DAY);
    cloneBackup(dir, fresh, "daily", old8, 8 * DAY);
    cloneBackup(dir, fresh, "weekly", oldWeekly, 100 * DAY);
    for (const [id, ago] of [
      [staleIncomplete, 3 * DAY],
      [runningIncomplete, 60_000],
    ] as const) {
      mkdirSync(join(dir, "daily", id), { recursive: true });
      writeFileSync(join(dir, "daily", id, "dump"), "PGDMP");
      const t = new Date(Date.now() - ago);
      utimesSync(join(dir, "daily", id, "dump"), t, t);
    }
  });

  it("list shows complete and incomplete backups, oldest first", async () => {
    const r = await drctl(["list", "--json", "--store", store]);
    const rows = JSON.parse(r.stdout) as { id: string; tier: string; status: string }[];
    expect(rows.map((x) => [x.tier, x.id, x.status])).toEqual([
      ["weekly", oldWeekly, "complete"],
      ["daily", old10, "complete"],
      ["daily", old8, "complete"],
      ["daily", staleIncomplete, "incomplete"],
      ["daily", runningIncomplete, "incomplete"],
      ["daily", fresh, "complete"],
    ]);
  });

  it("--dry-run lists what it would delete and deletes nothing", async () => {
    const r = await drctl(["prune", "--dry-run", "--store", store]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        `would delete daily/${old10} (complete, older than 7 days)`,
        `would delete daily/${old8} (complete, older than 7 days)`,
        `would delete daily/${staleIncomplete} (incomplete, incomplete for more than a day)`,
        "would delete 3 backup(s), kept 3",
        "",
      ].join("\n"),
    );
    const list = JSON.parse(
      (await drctl(["list", "--json", "--store", store])).stdout,
    ) as unknown[];
    expect(list).toHaveLength(6);
  });

  it("applies retentions from the environment and keeps the newest complete backup of each tier", async () => {
    const r = await drctl(["prune", "--store", store], { DRCTL_RETENTION_DAILY: "9" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`deleted daily/${old10} (complete, older than 9 days)`);
    expect(r.stdout).toContain("deleted 2 backup(s), kept 4");
    const rows = JSON.parse((await drctl(["list", "--json", "--store", store])).stdout) as {
      id: string;
    }[];
    expect(rows.map((x) => x.id)).toEqual([oldWeekly, old8, runningIncomplete, fresh]);
  });

  it("status exits 0 while the newest backup is within --max-age", async () => {
    const r = await drctl(["status", "--max-age", "1h", "--store", store]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^daily       ${fresh}  finished \\S+  age \\d+s\\n`));
    expect(r.stdout).toMatch(
      new RegExp(`\\nweekly      ${oldWeekly}  finished \\S+  age 100d0h\\n`),
    );
    expect(r.stdout).toContain("monthly     none\npre-restore none\n");
    expect(r.stdout).toMatch(/\nok: newest backup is \d+s old, objective 1h0m\n$/);
  });

  it("status exits 2 when the newest backup is older than --max-age (env), or there is none", async () => {
    const stale = mkdtempSync(join(work, "stale-"));
    const staleStore = pathToFileURL(stale).href;
    cpSync(join(dir, "weekly"), join(stale, "weekly"), { recursive: true });
    const r = await drctl(["status", "--json", "--store", staleStore], { DRCTL_MAX_AGE: "7d" });
    expect(r.code).toBe(2);
    const json = JSON.parse(r.stdout) as {
      breached: boolean;
      maxAgeSeconds: number;
      newestAgeSeconds: number;
    };
    expect(json).toMatchObject({ breached: true, maxAgeSeconds: 7 * 86_400 });
    expect(Math.round(json.newestAgeSeconds / 86_400)).toBe(100);
    const empty = await drctl([
      "status",
      "--store",
      pathToFileURL(mkdtempSync(join(work, "empty-"))).href,
    ]);
    expect(empty.code).toBe(2);
    expect(empty.stdout).toContain("BREACHED: no complete backup in file://");
  });
});

describe("durations", () => {
  it("parses s, m, h and d and rejects anything else with the expected form", () => {
    expect([
      parseDuration("30s", "x"),
      parseDuration("15m", "x"),
      parseDuration("26h", "x"),
      parseDuration("7d", "x"),
    ]).toEqual([30_000, 900_000, 93_600_000, 604_800_000]);
    expect(() => parseDuration("26 hours", "--max-age")).toThrow(
      '--max-age must be a duration like 30s, 15m, 26h or 7d, got "26 hours"',
    );
  });
});
