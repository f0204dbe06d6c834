import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSeconds } from "../../drctl/src/timeline";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { DRILL_STEPS, type DrillReport } from "../../drctl/src/commands/drill";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";
import { S3Server } from "../support/s3server";

let cluster: LocalCluster;
let s3: S3Server;
let work: string;
let dbUrl: string;
let scratchUrl: string;

beforeAll(async () => {
  cluster = await startCluster();
  const db = await createDatabase(cluster, "drillsrc");
  await sql(
    cluster,
    db,
    `create table users (id int primary key, name text);
     insert into users select g, 'user ' || g from generate_series(1, 25) g;
     create schema sales;
     create table sales.orders (id int primary key, user_id int references users(id), total numeric);
     insert into sales.orders select g, 1 + g % 25, g * 1.5 from generate_series(1, 40) g;`,
  );
  dbUrl = cluster.url(db);
  // The scratch server: the drill creates (and drops) its own database on it.
  scratchUrl = cluster.url("postgres");
  s3 = await S3Server.start();
  // The SDK's credential chain reads the process environment, not drctl's io.env.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });
  work = mkdtempSync(join(tmpdir(), "drctl-drill-"));
});

afterAll(async () => {
  await s3?.stop();
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

function fileStore(): { dir: string; url: string } {
  const dir = mkdtempSync(join(work, "store-"));
  return { dir, url: pathToFileURL(dir).href };
}

async function backup(store: string, tier: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await drctl(["backup", "--tier", tier, "--store", store, "--database-url", dbUrl], env);
  expect(r.stderr).not.toContain('"event":"error"');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

async function drillDatabases(): Promise<string[]> {
  const rows = await sql<{ datname: string }>(
    cluster,
    "postgres",
    "select datname from pg_database where datname like 'drill\\_%' order by 1",
  );
  return rows.map((r) => r.datname);
}

/**
 * Backup ids have one-second resolution and a random suffix: two backups in the same second sort
 * in random order. Waiting for the next second makes "newest" well defined.
 */
async function nextSecond(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

describe("drctl drill", () => {
  it("restores the newest complete backup from S3, proves it and stores a passing report", async () => {
    await s3.createBucket("drills");
    const env = { ...s3.env(), DRCTL_STORE: "s3://drills/site-a" };
    const older = await backup("s3://drills/site-a", "daily", env);
    await nextSecond();
    const newest = await backup("s3://drills/site-a", "daily", env);
    expect(newest > older).toBe(true);

    const before = Date.now();
    const r = await drctl(
      [
        "drill",
        "--scratch-url",
        scratchUrl,
        "--smoke-sql",
        "select 1 from users where id = 7",
        "--smoke-sql",
        "select count(*) from sales.orders having count(*) = 40",
        "--json",
      ],
      env,
    );
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as DrillReport;

    expect(report.steps.map((s) => s.name)).toEqual([
      "find-backup",
      "verify",
      "create-scratch",
      "restore",
      "row-counts",
      "smoke-sql",
      "drop-scratch",
    ]);
    expect(report.steps.map((s) => s.name)).toEqual([...DRILL_STEPS]);
    expect(report.steps.every((s) => s.passed)).toBe(true);
    expect(report.steps.every((s) => s.durationSeconds >= 0)).toBe(true);
    expect(report.passed).toBe(true);
    expect(report.failure).toBeUndefined();
    expect(report.backupId).toBe(newest);
    expect(report.tier).toBe("daily");
    expect(report.requestedTier).toBeNull();
    expect(report.store).toBe("s3://drills/site-a");
    expect(report.manualInterventions).toBe(0);
    expect(report.integrity).toEqual({ tables: 2, tablesMatching: 2, passRate: 1, mismatches: [] });
    expect(report.smoke).toEqual([
      { sql: "select 1 from users where id = 7", rows: 1, passed: true },
      { sql: "select count(*) from sales.orders having count(*) = 40", rows: 1, passed: true },
    ]);
    expect(report.drillId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    // The date is the drill's start in UTC (so keys sort by time), and the drill started today.
    expect(report.reportKey).toBe(
      `reports/${report.startedAt.slice(0, 10)}-${report.drillId}.json`,
    );
    expect([today(), new Date(before).toISOString().slice(0, 10)]).toContain(
      report.startedAt.slice(0, 10),
    );
    expect(report.scratch).toEqual({
      server: `127.0.0.1:${cluster.port}/postgres`,
      database: `drill_${report.drillId.toLowerCase().replace(/-/g, "_")}`,
      kept: false,
    });
    // The restore step's duration is the RTO the report states.
    const restore = report.steps.find((s) => s.name === "restore")!;
    expect(report.restoreDurationSeconds).toBe(restore.durationSeconds);
    expect(report.restoreDurationSeconds).toBeGreaterThan(0);
    // The drill's RTO counts every step, download, verify, restore and checks, not pg_restore alone.
    const all = report.steps.reduce((sum, s) => sum + s.durationSeconds, 0);
    expect(report.rtoSeconds).toBe(Math.round(all * 1000) / 1000);
    expect(report.steps.map((s) => s.name)).toEqual(expect.arrayContaining(["verify", "restore"]));
    expect(report.rtoSeconds!).toBeGreaterThan(report.restoreDurationSeconds!);
    expect(report.rpoSeconds).toBe(report.backupAgeSeconds);
    // RPO: drill start minus the snapshot time of the newest backup, taken seconds ago.
    expect(report.backupAgeSeconds).toBe(
      Math.round((Date.parse(report.startedAt) - Date.parse(report.backupSnapshotAt!)) / 1000),
    );
    expect(report.backupAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(report.backupAgeSeconds).toBeLessThan(60);
    expect(Date.parse(report.startedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));

    // The same report is in the bucket under reports/<date>-<id>.json.
    const client = s3.client();
    const obj = await client.send(
      new GetObjectCommand({ Bucket: "drills", Key: `site-a/${report.reportKey}` }),
    );
    expect(JSON.parse(await obj.Body!.transformToString())).toEqual(report);
    // Beside it, its timeline: a bar per step that ran, and the restore time.
    const svg = await (
      await client.send(
        new GetObjectCommand({
          Bucket: "drills",
          Key: `site-a/${report.reportKey.replace(/\.json$/, ".svg")}`,
        }),
      )
    ).Body!.transformToString();
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect([...svg.matchAll(/<rect class="bar ok"/g)]).toHaveLength(report.steps.length);
    expect(svg).toContain(`>restore time ${formatSeconds(report.restoreDurationSeconds!)}</text>`);
    client.destroy();
    // The scratch database is gone.
    expect(await drillDatabases()).toEqual([]);
  });

  it("restores the newest backup of --tier, and keeps the scratch database with --keep", async () => {
    const { dir, url } = fileStore();
    const weekly = await backup(url, "weekly");
    await nextSecond();
    const daily = await backup(url, "daily");
    expect(daily > weekly).toBe(true);
    const r = await drctl(
      [
        "drill",
        "--store",
        url,
        "--scratch-url",
        scratchUrl,
        "--tier",
        "weekly",
        "--keep",
        "--json",
      ],
      { DRCTL_SMOKE_SQL: JSON.stringify(["select name from users where id = 25"]) },
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as DrillReport;
    expect(report.backupId).toBe(weekly);
    expect(report.tier).toBe("weekly");
    expect(report.requestedTier).toBe("weekly");
    expect(report.steps.map((s) => s.name)).toEqual([
      "find-backup",
      "verify",
      "create-scratch",
      "restore",
      "row-counts",
      "smoke-sql",
    ]);
    expect(report.smoke).toEqual([
      { sql: "select name from users where id = 25", rows: 1, passed: true },
    ]);
    expect(report.scratch.kept).toBe(true);
    expect(await drillDatabases()).toEqual([report.scratch.database]);
    expect(
      await sql(cluster, report.scratch.database, "select count(*)::int as n from sales.orders"),
    ).toEqual([{ n: 40 }]);
    await sql(cluster, "postgres", `drop database ${report.scratch.database}`);
    expect(readdirSync(join(dir, "reports"))).toEqual([
      `${report.startedAt.slice(0, 10)}-${report.drillId}.json`,
      `${report.startedAt.slice(0, 10)}-${report.drillId}.svg`,
    ]);
  });

  it("writes a failing report naming the checksum mismatch when the stored dump is corrupted, and exits 2", async () => {
    const { dir, url } = fileStore();
    const id = await backup(url, "daily");
    const dumpPath = join(dir, "daily", id, "dump");
    const bytes = readFileSync(dumpPath);
    // Flip one bit near the end: the size stays, the SHA-256 does not.
    bytes[bytes.length - 3] ^= 0x01;
    writeFileSync(dumpPath, bytes);

    const r = await drctl(["drill", "--store", url, "--scratch-url", scratchUrl, "--json"]);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout) as DrillReport;
    expect(report.passed).toBe(false);
    expect(report.backupId).toBe(id);
    expect(report.steps.map((s) => [s.name, s.passed])).toEqual([
      ["find-backup", true],
      ["verify", false],
    ]);
    expect(report.failure?.step).toBe("verify");
    expect(report.failure?.reason).toMatch(
      /^verify --deep failed: sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}$/,
    );
    expect(report.steps[1].reason).toBe(report.failure?.reason);
    expect(report.restoreDurationSeconds).toBeNull();
    expect(report.rtoSeconds).toBeNull();
    expect(report.integrity).toEqual({
      tables: 0,
      tablesMatching: 0,
      passRate: null,
      mismatches: [],
    });
    expect(report.manualInterventions).toBe(0);
    // Nothing was restored, so no scratch database was created.
    expect(await drillDatabases()).toEqual([]);
    const stored = JSON.parse(readFileSync(join(dir, report.reportKey), "utf8")) as DrillReport;
    expect(stored).toEqual(report);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl drill: drill ${report.drillId} failed at verify: ${report.failure?.reason}; ` +
        `the report is ${report.reportKey} in ${url}`,
    ]);
  });

  it("writes a failing report saying there is no complete backup when the store is empty", async () => {
    const { dir, url } = fileStore();
    const r = await drctl(["drill", "--scratch-url", scratchUrl, "--json"], { DRCTL_STORE: url });
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout) as DrillReport;
    expect(report.passed).toBe(false);
    expect(report.backupId).toBeNull();
    expect(report.tier).toBeNull();
    expect(report.backupAgeSeconds).toBeNull();
    expect(report.steps.map((s) => s.name)).toEqual(["find-backup"]);
    expect(report.failure).toEqual({
      step: "find-backup",
      reason: `no complete backup in ${url}; run drctl backup first or check --store`,
    });
    expect(existsSync(join(dir, report.reportKey))).toBe(true);
  });

  it("fails the drill naming the smoke query that returned no row, and still drops the scratch database", async () => {
    const { url } = fileStore();
    await backup(url, "daily");
    const r = await drctl([
      "drill",
      "--store",
      url,
      "--scratch-url",
      scratchUrl,
      "--smoke-sql",
      "select 1 from users where id = 1",
      "--smoke-sql",
      "select 1 from users where id > 1000",
      "--smoke-sql",
      "select 1 from no_such_table",
      "--json",
    ]);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout) as DrillReport;
    expect(report.passed).toBe(false);
    expect(report.steps.map((s) => [s.name, s.passed])).toEqual([
      ["find-backup", true],
      ["verify", true],
      ["create-scratch", true],
      ["restore", true],
      ["row-counts", true],
      ["smoke-sql", false],
      ["drop-scratch", true],
    ]);
    expect(report.integrity.passRate).toBe(1);
    expect(report.smoke).toEqual([
      { sql: "select 1 from users where id = 1", rows: 1, passed: true },
      {
        sql: "select 1 from users where id > 1000",
        rows: 0,
        passed: false,
        reason: "returned no rows",
      },
      {
        sql: "select 1 from no_such_table",
        passed: false,
        reason: 'relation "no_such_table" does not exist (SQLSTATE 42P01)',
      },
    ]);
    expect(report.failure).toEqual({
      step: "smoke-sql",
      reason:
        '2 of 3 smoke queries failed: "select 1 from users where id > 1000" returned no rows; ' +
        '"select 1 from no_such_table" relation "no_such_table" does not exist (SQLSTATE 42P01)',
    });
    expect(await drillDatabases()).toEqual([]);
  });

  it("prints a summary for a person without --json", async () => {
    const { url } = fileStore();
    const id = await backup(url, "monthly");
    const r = await drctl(["drill", "--store", url, "--scratch-url", scratchUrl]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^drill \d{8}T\d{6}Z-[0-9a-f]{6}: PASSED$/);
    expect(lines[1]).toMatch(new RegExp(`^backup: +monthly/${id} \\(snapshot `));
    expect(lines.slice(2, 9).map((l) => l.trim().split(/\s+/).slice(0, 2))).toEqual(
      DRILL_STEPS.map((s) => ["ok", s]),
    );
    expect(lines).toContain("integrity: 2/2 table(s) match (100.0%)");
    expect(lines.at(-1)).toMatch(
      new RegExp(`^report: ${url}/reports/${today()}-\\d{8}T\\d{6}Z-[0-9a-f]{6}\\.json$`),
    );
  });

  it("exits 1 when the report cannot be written, after printing it", async () => {
    const { dir, url } = fileStore();
    await backup(url, "daily");
    // A file where the reports directory should be: the store cannot create reports/<key>.
    writeFileSync(join(dir, "reports"), "not a directory");
    const r = await drctl(["drill", "--store", url, "--scratch-url", scratchUrl, "--json"]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as DrillReport;
    expect(report.passed).toBe(true);
    const errors = plainErrors(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `^drctl drill: the drill passed, but its report could not be written to ${url} as ${report.reportKey}: `,
      ),
    );
  });

  it("is a usage error without a scratch server or with malformed DRCTL_SMOKE_SQL", async () => {
    const { url } = fileStore();
    const none = await drctl(["drill", "--store", url]);
    expect(none.code).toBe(64);
    expect(plainErrors(none.stderr)[0]).toMatch(/^drctl drill: drctl drill needs --scratch-url /);
    const bad = await drctl(["drill", "--store", url, "--scratch-url", scratchUrl], {
      DRCTL_SMOKE_SQL: "select 1",
    });
    expect(bad.code).toBe(64);
    expect(plainErrors(bad.stderr)[0]).toContain("DRCTL_SMOKE_SQL is not valid JSON");
  });
});
