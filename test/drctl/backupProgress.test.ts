import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pathToFileURL } from "node:url";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../drctl/src/main";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { CopyProgress, Meter, eventSink, type DrctlEvent } from "../../drctl/src/progress";
import { createDatabase, sql, startCluster } from "../support/postgres";

let cluster: LocalCluster;
let db: string;
let work: string;

beforeAll(async () => {
  cluster = await startCluster();
  db = await createDatabase(cluster, "progress");
  await sql(
    cluster,
    db,
    `create table public.events (id bigint primary key, payload text not null);
     insert into public.events select g, repeat(md5(g::text), 8) from generate_series(1, 40000) g;
     create table public.accounts (id int primary key, name text);
     insert into public.accounts select g, 'a' || g from generate_series(1, 500) g;`,
  );
  work = mkdtempSync(join(tmpdir(), "drctl-progress-"));
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

describe("CopyProgress", () => {
  it("follows a COPY TO on the server: partway while it runs, the whole table once it ended", async () => {
    const rows = await sql<{ relid: string; bytes: string }>(
      cluster,
      db,
      "select 'public.events'::regclass::oid::text as relid, pg_table_size('public.events')::text as bytes",
    );
    const sizes = new Map([[rows[0].relid, Number(rows[0].bytes)]]);
    const watcher = new Client({ connectionString: cluster.url(db) });
    await watcher.connect();
    const progress = new CopyProgress(watcher, "drctl-progress-test", sizes);
    // psql's \copy runs COPY ... TO STDOUT on the server; with nobody reading psql's output the
    // server's COPY stalls once the pipes fill, mid-table, as a pg_dump does behind a slow store.
    const psql = spawn(
      findPgBinary("psql").path,
      ["-X", "-d", cluster.url(db), "-c", "\\copy public.events to stdout"],
      {
        env: { ...process.env, PGAPPNAME: "drctl-progress-test" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    psql.stdout.pause();
    let partway: ReturnType<CopyProgress["estimate"]>;
    for (let i = 0; i < 200; i++) {
      await progress.poll();
      partway = progress.estimate();
      if (partway && partway.done > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(partway!.total).toBe(Number(rows[0].bytes));
    expect(partway!.done).toBeGreaterThan(0);
    expect(partway!.done).toBeLessThan(partway!.total);
    psql.stdout.resume();
    await new Promise((r) => psql.on("exit", r));
    await progress.poll();
    expect(progress.estimate()).toEqual({ done: partway!.total, total: partway!.total });
    await progress.stop();
  }, 60_000);
});

describe("the backup's progress line", () => {
  it("gives the percentage and the ETA of the database dumped, not of the bytes stored", () => {
    vi.useFakeTimers();
    try {
      const events: DrctlEvent[] = [];
      const meter = new Meter(
        "backup",
        (e) => events.push(e),
        undefined,
        () => ({
          done: 250,
          total: 1000,
        }),
      );
      vi.advanceTimersByTime(5_000);
      meter.set(100);
      // 250 of 1000 database bytes in 5 s: 750 more take 15 s.
      expect(events).toEqual([
        {
          event: "progress",
          op: "backup",
          bytes: 100,
          done: 250,
          total: 1000,
          rate: 20,
          etaSeconds: 15,
        },
      ]);
      const tty = Object.assign(new PassThrough(), { isTTY: true });
      let line = "";
      tty.on("data", (d: Buffer) => (line += d.toString()));
      eventSink(tty, () => 10_000)(events[0]);
      expect(line).toBe("\rbackup: 100 B 25.0% at 20 B/s ETA 15s\x1b[K");
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("drctl backup --json", () => {
  /** drctl on a terminal: stderr says it is a TTY. */
  async function onTerminal(argv: string[]) {
    const stdout = new PassThrough();
    const stderr = Object.assign(new PassThrough(), { isTTY: true });
    let out = "";
    let err = "";
    stdout.on("data", (d: Buffer) => (out += d.toString()));
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await main(argv, { stdout, stderr, env: { PATH: process.env.PATH } });
    return { code, stdout: out, stderr: err };
  }

  it("writes JSON events even on a terminal, the last one a summary of the backup", async () => {
    const store = pathToFileURL(join(work, "json")).href;
    const args = ["backup", "--tier", "daily", "--store", store, "--database-url", cluster.url(db)];
    const r = await onTerminal([...args, "--json"]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const events = r.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ event: "start", op: "backup", id });
    expect(events.at(-2)).toMatchObject({ event: "done", op: "backup", id });
    expect(events.at(-1)).toMatchObject({
      event: "summary",
      op: "backup",
      id,
      tier: "daily",
      store,
      format: "custom",
      tables: 2,
      rows: 40_500,
    });
    // Without --json, a terminal gets lines for people.
    const plain = await onTerminal(args);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toMatch(/backup done: [\d.]+ \w+ in [\d.]+s\n$/);
    expect(plain.stderr).not.toContain("{");
  }, 120_000);
});
