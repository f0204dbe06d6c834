import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import {
  HEARTBEAT_TABLE_SQL,
  HEARTBEAT_WRITE_SQL,
  heartbeatScheduleSql,
  lostWindow,
  readHeartbeat,
  type HeartbeatReading,
} from "../../drctl/src/pitr/heartbeat";
import { LocalCluster, makeServerDir } from "../../drctl/src/postgres/localCluster";
import { cloneStandby, waitForStreaming } from "../../rehearsal/standby";
import { sql } from "../support/postgres";

// The heartbeat path on real PostgreSQL: a primary, a streaming standby cloned the way the local
// rehearsal clones one, the heartbeat statement pg_cron runs on RDS written by a timer here (Debian
// ships pg_cron 1.4.2, which has no seconds schedules; RDS's is 1.6), and a workload of numbered
// commits. The standby is cut off, the primary goes on committing, then it is killed: the lost
// window the heartbeat reports must cover exactly the commits the standby lacks.
const INTERVAL_MS = 1_000;

let primary: LocalCluster;
let standby: LocalCluster;
const timers: NodeJS.Timeout[] = [];
const clients: Client[] = [];

async function connect(c: LocalCluster): Promise<Client> {
  const client = new Client({ connectionString: c.url("app") });
  client.on("error", () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

beforeAll(async () => {
  primary = await LocalCluster.init({
    baseDir: makeServerDir("drstack-hb-primary-"),
    settings: { wal_level: "replica", max_wal_senders: "4", fsync: "off" },
  });
  await primary.start();
  await sql(primary, "postgres", "create database app");
  await sql(primary, "app", HEARTBEAT_TABLE_SQL);
  await sql(
    primary,
    "app",
    "create table commits (id bigint primary key, at timestamptz not null)",
  );
  standby = await cloneStandby(primary, makeServerDir("drstack-hb-standby-"));
  await standby.start();
  await waitForStreaming(primary.url(), 30_000);
}, 120_000);

afterAll(async () => {
  for (const t of timers) clearInterval(t);
  for (const c of clients) await c.end().catch(() => undefined);
  await standby?.destroy();
  await primary?.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the heartbeat measures the data at risk in seconds", () => {
  it("is one schedule of the write statement in the application's database", () => {
    expect(heartbeatScheduleSql("app", 5)).toBe(
      "create extension if not exists pg_cron;\n" +
        `select cron.schedule_in_database('drstack-heartbeat', '5 seconds', $$${HEARTBEAT_WRITE_SQL}$$, 'app');`,
    );
    expect(() => heartbeatScheduleSql("app", 60)).toThrow(
      "[seconds] pg_cron interval schedules take 1 to 59 seconds, got 60",
    );
  });

  it("stays near lag + interval while the primary runs, grows after it dies, and bounds the lost commits", async () => {
    const writer = await connect(primary);
    const beat = setInterval(
      () => void writer.query(HEARTBEAT_WRITE_SQL).catch(() => undefined),
      INTERVAL_MS,
    );
    timers.push(beat);
    // Acknowledged commits, with the primary's commit time as the client saw it acknowledged.
    const acked: { id: number; at: Date }[] = [];
    const app = await connect(primary);
    let id = 0;
    const work = setInterval(() => {
      const n = ++id;
      void app
        .query<{ at: Date }>("insert into commits values ($1, clock_timestamp()) returning at", [n])
        .then((r) => acked.push({ id: n, at: r.rows[0].at }))
        .catch(() => undefined);
    }, 100);
    timers.push(work);

    const reader = await connect(standby);
    await sleep(2.5 * INTERVAL_MS);
    const live: HeartbeatReading[] = [];
    for (let i = 0; i < 5; i++) {
      live.push(await readHeartbeat(reader));
      await sleep(300);
    }
    for (const r of live) {
      expect(r.inRecovery).toBe(true);
      // Loopback lag is milliseconds: the age is at most one interval plus scheduling slack.
      expect(r.ageSeconds).not.toBeNull();
      expect(r.ageSeconds as number).toBeLessThan(INTERVAL_MS / 1000 + 0.75);
      expect(r.ageSeconds as number).toBeGreaterThanOrEqual(0);
    }

    // Cut the standby off: the primary refuses replication connections from now on (pg_hba) and
    // ends the one it has, so the walreceiver's retries get nothing. The primary goes on
    // committing and beating for a while, then it is killed: those commits are lost.
    const hba = join(primary.dataDir, "pg_hba.conf");
    writeFileSync(hba, `host replication all 127.0.0.1/32 reject\n${readFileSync(hba, "utf8")}`);
    await sql(primary, "postgres", "select pg_reload_conf()");
    await sql(primary, "postgres", "select pg_terminate_backend(pid) from pg_stat_replication");
    await sleep(2.5 * INTERVAL_MS);
    clearInterval(work);
    clearInterval(beat);
    await sleep(200);
    const failedAt = new Date();
    await primary.kill();

    const after1 = await readHeartbeat(reader);
    await sleep(1_500);
    const after2 = await readHeartbeat(reader);
    expect(after2.lastBeat).toEqual(after1.lastBeat);
    expect((after2.ageSeconds as number) - (after1.ageSeconds as number)).toBeGreaterThan(1.2);
    // At least the time since the failure: the age keeps counting when nothing arrives.
    expect(after2.ageSeconds as number).toBeGreaterThan(
      (after2.at.getTime() - failedAt.getTime()) / 1000,
    );

    const lastBeat = after2.lastBeat as Date;
    const window = lostWindow(failedAt, lastBeat);
    const { rows } = await reader.query<{ max: string | null }>(
      "select max(id)::text as max from commits",
    );
    const have = Number(rows[0].max ?? 0);
    const lost = acked.filter((c) => c.id > have);
    // The cut-off lasted 2.5 intervals of 10 commits a second: some commits were lost.
    expect(lost.length).toBeGreaterThan(10);
    // Every lost commit lies inside the window, and the window starts at most one interval
    // (plus slack) before the first of them: it names the lost commits, not more.
    for (const c of lost) {
      expect(c.at.getTime()).toBeGreaterThan(lastBeat.getTime());
      expect(c.at.getTime()).toBeLessThanOrEqual(failedAt.getTime());
    }
    expect(lost[0].at.getTime() - lastBeat.getTime()).toBeLessThan(INTERVAL_MS + 500);
    // And every commit the standby has is from before the failure: nothing outside is missing.
    const kept = acked.filter((c) => c.id <= have);
    expect(kept.every((c) => c.at.getTime() <= lastBeat.getTime() + INTERVAL_MS + 500)).toBe(true);
    expect(window.seconds).toBeCloseTo((failedAt.getTime() - lastBeat.getTime()) / 1000, 3);
    expect(window.seconds).toBeGreaterThanOrEqual(
      (lost[lost.length - 1].at.getTime() - lost[0].at.getTime()) / 1000,
    );
  }, 60_000);
});
