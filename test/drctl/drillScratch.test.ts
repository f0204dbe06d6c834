import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import type { DrillReport } from "../../drctl/src/commands/drill";
import { zstdInputBytes } from "../../drctl/src/commands/backup";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * Parallel jobs and scratch (docs/architecture.md §5): the manifest records what a restore needs (restoreNeeds), and `drctl drill` refuses,
 * before downloading, a backup that does not fit DRCTL_SCRATCH_BYTES, naming the config key.
 */
let cluster: LocalCluster;
let work: string;
let db: string;
let dbUrl: string;
let databaseBytes: number;

beforeAll(async () => {
  cluster = await startCluster();
  db = await createDatabase(cluster, "scratchfit");
  await sql(
    cluster,
    db,
    `create table customers (id int primary key, email text not null);
     insert into customers select g, 'c' || g || '@example.com' from generate_series(1, 20000) g;
     create table orders (id int primary key, customer int references customers, total numeric);
     insert into orders select g, 1 + g % 20000, g / 7.0 from generate_series(1, 30000) g;`,
  );
  // Vacuum now, so autovacuum adds no visibility-map or free-space fork while the tests run:
  // pg_database_size is the size of the database's files (https://www.postgresql.org/docs/15/functions-admin.html#FUNCTIONS-ADMIN-DBSIZE).
  await sql(cluster, db, "vacuum analyze");
  const [row] = await sql<{ n: string }>(
    cluster,
    db,
    "select pg_database_size(current_database())::text as n",
  );
  databaseBytes = Number(row.n);
  dbUrl = cluster.url(db);
  work = mkdtempSync(join(tmpdir(), "drctl-scratchfit-"));
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

interface Backup {
  store: string;
  dir: string;
  id: string;
  manifest: {
    dump: { size: number };
    restoreNeeds?: { databaseBytes: number; archiveBytes?: number };
  };
}

async function backup(args: string[]): Promise<Backup> {
  const dir = mkdtempSync(join(work, "store-"));
  const store = pathToFileURL(dir).href;
  const r = await drctl([
    "backup",
    "--tier",
    "daily",
    "--store",
    store,
    "--database-url",
    dbUrl,
    ...args,
  ]);
  expect(r.code).toBe(0);
  const id = r.stdout.trim();
  const manifest = JSON.parse(
    readFileSync(join(dir, "daily", id, "manifest.json"), "utf8"),
  ) as Backup["manifest"];
  return { store, dir, id, manifest };
}

describe("the manifest's restoreNeeds", () => {
  it("records pg_database_size and, for the zstd envelope, the unwrapped archive's bytes", async () => {
    const b = await backup(["--compress", "zstd"]);
    const stored = join(b.dir, "daily", b.id, "dump");
    const unwrapped = execFileSync("zstd", ["-d", "-c", stored], { maxBuffer: 1 << 30 });
    expect(b.manifest.restoreNeeds).toEqual({
      databaseBytes,
      archiveBytes: unwrapped.length,
    });
    // The archive is smaller compressed: archiveBytes is not the stored size.
    expect(b.manifest.dump.size).toBeLessThan(unwrapped.length);
  });

  it.each([
    ["custom", ["--compress", "none", "--format", "custom"]],
    ["directory", ["--compress", "gzip", "--format", "directory", "--jobs", "2"]],
  ])(
    "records the stored bytes as the archive of a %s dump pg_restore reads as is",
    async (_f, args) => {
      const b = await backup(args);
      expect(b.manifest.restoreNeeds).toEqual({
        databaseBytes,
        archiveBytes: b.manifest.dump.size,
      });
    },
  );

  it("reads zstd's -vv summary line, and nothing else, as a byte count", () => {
    expect(
      zstdInputBytes("/*stdin*\\            :100.00%   (12345678 B => 12345973 B, /*stdout*\\) \n"),
    ).toBe(12345678);
    expect(
      zstdInputBytes("/*stdin*\\ : 47.99%   (  781 MiB =>    375 MiB, /*stdout*\\)"),
    ).toBeUndefined();
  });
});

describe("drctl drill with DRCTL_SCRATCH_BYTES", () => {
  const drill = (store: string, scratchBytes: string) =>
    drctl(
      [
        "drill",
        "--store",
        store,
        "--scratch-url",
        cluster.url("postgres"),
        "--json",
        "--no-metrics",
      ],
      {
        DRCTL_SCRATCH_BYTES: scratchBytes,
      },
    );

  it("refuses, before verifying or downloading, a backup larger than the scratch volumes", async () => {
    const b = await backup(["--compress", "none"]);
    const scratch = databaseBytes - 1;
    const r = await drill(b.store, String(scratch));
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout) as DrillReport;
    expect(report.steps.map((s) => s.name)).toEqual(["find-backup"]);
    const gib = (n: number): string => `${(n / 2 ** 30).toFixed(2)} GiB`;
    // 1.25 × the database + 1 GiB of WAL, rounded up: 2 Gi for a database of a few MB.
    const expected =
      `backup ${b.id} needs ${gib(databaseBytes)} for its database and ${gib(b.manifest.dump.size)} for its archive, ` +
      `more than the drill's scratch volumes of ${gib(scratch)} (DRCTL_SCRATCH_BYTES=${scratch}); nothing was ` +
      `downloaded: set dr-stack:jobs.drillScratchStorage to "2Gi" (the larger size + 25% growth + 1 GiB of WAL) ` +
      `and run pulumi up`;
    expect(report.failure).toEqual({ step: "find-backup", reason: expected });
    expect(plainErrors(r.stderr)).toEqual([
      `drctl drill: drill ${report.drillId} failed at find-backup: ${expected}; the report is ${report.reportKey} in ${b.store}`,
    ]);
    const drills = await sql(
      cluster,
      "postgres",
      "select 1 from pg_database where datname like 'drill\\_%'",
    );
    expect(drills).toHaveLength(0);
  });

  it("runs when the backup fits exactly", async () => {
    const b = await backup(["--compress", "none"]);
    const r = await drill(b.store, String(Math.max(databaseBytes, b.manifest.dump.size)));
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as DrillReport).passed).toBe(true);
  });

  it("warns and runs on an older manifest that records no restore sizes", async () => {
    const b = await backup(["--compress", "none"]);
    const path = join(b.dir, "daily", b.id, "manifest.json");
    const m = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    delete m.restoreNeeds;
    writeFileSync(path, JSON.stringify(m));
    const r = await drill(b.store, "1");
    expect(r.code).toBe(0);
    const warnings = r.stderr
      .split("\n")
      .filter((l) => l.includes('"event":"warning"'))
      .map((l) => (JSON.parse(l) as { message: string }).message);
    expect(warnings).toEqual([
      `backup ${b.id}'s manifest does not record its restore sizes (written by an older drctl); the drill ` +
        `cannot check it against DRCTL_SCRATCH_BYTES=1 before downloading`,
    ]);
  });

  it("warns, and checks the database alone, when the archive's size is not recorded", async () => {
    const b = await backup(["--compress", "none"]);
    const path = join(b.dir, "daily", b.id, "manifest.json");
    const m = JSON.parse(readFileSync(path, "utf8")) as { restoreNeeds: { archiveBytes?: number } };
    delete m.restoreNeeds.archiveBytes;
    writeFileSync(path, JSON.stringify(m));
    const r = await drill(b.store, String(databaseBytes));
    expect(r.code).toBe(0);
    const warnings = r.stderr
      .split("\n")
      .filter((l) => l.includes('"event":"warning"'))
      .map((l) => (JSON.parse(l) as { message: string }).message);
    expect(warnings).toEqual([
      `backup ${b.id}'s manifest does not record its archive's size; only its database ` +
        `(${(databaseBytes / 2 ** 30).toFixed(2)} GiB) was checked against DRCTL_SCRATCH_BYTES=${databaseBytes}`,
    ]);
  });

  it("refuses a DRCTL_SCRATCH_BYTES that is not a byte count", async () => {
    const b = await backup(["--compress", "none"]);
    const r = await drill(b.store, "8Gi");
    expect(r.code).toBe(64);
    expect(plainErrors(r.stderr)).toEqual([
      'drctl drill: DRCTL_SCRATCH_BYTES must be a positive integer number of bytes (each drill scratch volume\'s size), got "8Gi"',
    ]);
  });
});
