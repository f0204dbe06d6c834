import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { HELD_BYTES } from "../../drctl/src/restore/script";
import { transactionOutcome } from "../../drctl/src/restore/txStatus";
import { APP_SCHEMA } from "../support/appDatabase";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster, tableDigests } from "../support/postgres";

/**
 * A single-transaction restore is atomic whatever the archive holds, large objects included, and
 * says what happened as the server saw it: a count mismatch, an SQL error, a killed psql, a
 * restarted server or a SIGTERM late in a --confirm restore leave the target exactly as it was
 * (asserted with SQL: rows, large objects, constraints, policies, triggers, indexes), end drctl
 * within seconds with one line, and leave no copy of the dump in TMPDIR.
 */
let cluster: LocalCluster;
let work: string;
let dir: string;
let tmp: string;
let env: NodeJS.ProcessEnv;
let sourceDb: string;
let id: string;
const realBin = dirname(findPgBinary("pg_restore").path);

beforeAll(async () => {
  cluster = await startCluster();
  sourceDb = await createDatabase(cluster, "lo");
  // Enough rows that the script is far longer than the end drctl holds back (64 KiB), so the
  // faults below hit a transaction that has already run most of it.
  await sql(
    cluster,
    sourceDb,
    `${APP_SCHEMA}
     insert into app.users (email, name) select 'bulk' || g || '@example.com', 'bulk ' || g
       from generate_series(1, 6000) g;
     create table app.docs (id int primary key, body oid not null);
     insert into app.docs values (1, lo_from_bytea(0, 'contract v1')), (2, lo_from_bytea(0, 'invoice'));`,
  );
  work = mkdtempSync(join(tmpdir(), "drctl-atomic-"));
  dir = join(work, "store");
  tmp = join(work, "tmp");
  mkdirSync(tmp);
  env = { DRCTL_STORE: pathToFileURL(dir).href, TMPDIR: tmp };
  const r = await drctl(
    ["backup", "--tier", "daily", "--database-url", cluster.url(sourceDb)],
    env,
  );
  expect(plainErrors(r.stderr)).toEqual([]);
  id = r.stdout.trim();
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

/**
 * Everything a restore could change: every table's rows, every large object's bytes, and the
 * catalog of constraints, indexes, triggers, policies and RLS flags of the user schemas.
 */
async function state(db: string): Promise<unknown> {
  const [catalog] = await sql(
    cluster,
    db,
    `select
      (select string_agg(conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), '; ' order by 1)
         from pg_constraint where connamespace::regnamespace::text in ('app', 'public')) as constraints,
      (select string_agg(indexrelid::regclass::text, ',' order by 1) from pg_index i
         join pg_class c on c.oid = i.indrelid where c.relnamespace::regnamespace::text = 'app') as indexes,
      (select string_agg(tgname || ':' || tgenabled::text, ',' order by 1) from pg_trigger where not tgisinternal) as triggers,
      (select string_agg(polname, ',' order by 1) from pg_policy) as policies,
      (select string_agg(relname, ',' order by 1) from pg_class where relrowsecurity) as rls,
      (select string_agg(oid::text || '=' || md5(lo_get(oid)), ',' order by oid) from pg_largeobject_metadata) as lobs,
      (select count(*)::int from pg_class c where c.relnamespace::regnamespace::text in ('app', 'public')) as relations`,
  );
  return { catalog, rows: await tableDigests(cluster, db) };
}

/** What drctl left in TMPDIR (a node child also keeps its compile cache there). */
function leftovers(): string[] {
  return readdirSync(tmp).filter((n) => n.startsWith("drctl-"));
}

/** A live copy of the source that has moved on since the backup. */
async function liveCopy(prefix: string): Promise<string> {
  const db = await createDatabase(cluster, prefix);
  const r = await drctl(["restore", id, "--target-url", cluster.url(db)], env);
  expect(plainErrors(r.stderr)).toEqual([]);
  await sql(
    cluster,
    db,
    `insert into app.users (email, name) values ('after-backup@example.com', 'written after the backup');
     insert into app.docs values (3, lo_from_bytea(0, 'written after the backup'));
     update app.orders set status = 'shipped' where id <= 5;`,
  );
  return db;
}

/** A copy of the backup whose manifest expects one more row in app.users than the dump holds. */
function countMismatch(newId: string): string {
  const to = join(dir, "daily", newId);
  cpSync(join(dir, "daily", id), to, { recursive: true });
  const m = JSON.parse(readFileSync(join(to, "manifest.json"), "utf8")) as {
    id: string;
    tables: { qualified: string; rows: number }[];
  };
  m.id = newId;
  m.tables.find((t) => t.qualified === "app.users")!.rows += 1;
  writeFileSync(join(to, "manifest.json"), JSON.stringify(m));
  return newId;
}

/**
 * A bin directory whose pg_restore writes its script up to the end of the last table's data, then
 * more than drctl holds back (HELD_BYTES) of comment lines, touches `mark`, waits `pause` seconds
 * and writes the rest; psql writes its pid to `psqlPid`. The padding puts the pause at a
 * statement boundary whatever the script's size: psql has run every table's data and waits,
 * idle in its transaction. (Cut at a byte offset instead, the pause can fall inside a COPY, where
 * the session is "active", waiting for the rest of the rows.)
 */
function slowBin(name: string, pause: number): { bin: string; mark: string; psqlPid: string } {
  const bin = join(work, name);
  const mark = join(work, `${name}.mark`);
  const psqlPid = join(work, `${name}.psql`);
  mkdirSync(bin);
  symlinkSync(join(realBin, "pg_dump"), join(bin, "pg_dump"));
  const script = join(work, `${name}.sql`);
  writeFileSync(
    join(bin, "pg_restore.js"),
    `const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const args = process.argv.slice(2);
const real = ${JSON.stringify(join(realBin, "pg_restore"))};
if (args[0] === "--version" || args[0] === "-l") {
  process.stdout.write(execFileSync(real, args));
  process.exit(0);
}
execFileSync(real, args, { stdio: ["ignore", fs.openSync(${JSON.stringify(script)}, "w"), "inherit"] });
const text = fs.readFileSync(${JSON.stringify(script)});
const cut = text.lastIndexOf("\\n\\\\.\\n") + 4;
if (cut < 4) throw new Error("no table data in the script");
const pad = Buffer.from("-- drctl test: pause here\\n".repeat(${Math.ceil((HELD_BYTES * 2) / 26)}));
fs.writeSync(1, text.subarray(0, cut));
fs.writeSync(1, pad);
fs.writeFileSync(${JSON.stringify(mark)}, "");
setTimeout(() => fs.writeSync(1, text.subarray(cut)), ${pause * 1000});
`,
  );
  writeFileSync(
    join(bin, "pg_restore"),
    `#!/bin/bash\nexec "${process.execPath}" "${join(bin, "pg_restore.js")}" "$@"\n`,
  );
  writeFileSync(
    join(bin, "psql"),
    `#!/bin/bash\necho $$ > "${psqlPid}"\nexec "${realBin}/psql" "$@"\n`,
  );
  chmodSync(join(bin, "pg_restore"), 0o755);
  chmodSync(join(bin, "psql"), 0o755);
  return { bin, mark, psqlPid };
}

/** Waits for `mark`, then until psql has run everything it was given (idle in its transaction). */
async function psqlCaughtUp(db: string, mark: string): Promise<void> {
  for (let i = 0; i < 600 && !existsSync(mark); i++) await sleep(50);
  expect(existsSync(mark)).toBe(true);
  for (let i = 0; i < 400; i++) {
    const [r] = await sql<{ n: number }>(
      cluster,
      "postgres",
      "select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'psql' and state = 'idle in transaction'",
      [db],
    );
    if (r.n === 1) return;
    await sleep(50);
  }
  throw new Error("psql never caught up");
}

describe("a row-count mismatch in a database with large objects", () => {
  it("leaves a live copy exactly as it was, rows written after the backup included (exit 2)", async () => {
    const bad = countMismatch(id.replace(/.{6}$/, "a0a0a1"));
    const db = await liveCopy("mismatch");
    const before = await state(db);
    const r = await drctl(
      ["restore", bad, "--target-url", cluster.url(db), "--confirm", "--no-safety-backup"],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("MISMATCH app.users  expected 6011  restored 6010\n");
    expect(r.stdout).toContain(
      `rolled back ${bad} in 127.0.0.1:${cluster.port}/${db}: 1 of 3 table(s) differ from the manifest; the target is as it was\n`,
    );
    expect(await state(db)).toEqual(before);
    expect(
      await sql(cluster, db, "select name from app.users where email = 'after-backup@example.com'"),
    ).toEqual([{ name: "written after the backup" }]);
    expect(leftovers()).toEqual([]);
  });

  it("leaves an empty target empty: no large object committed half-way", async () => {
    const bad = countMismatch(id.replace(/.{6}$/, "a0a0a2"));
    const db = await createDatabase(cluster, "mismatch_empty");
    const r = await drctl(["restore", bad, "--target-url", cluster.url(db)], env);
    expect(r.code).toBe(2);
    expect(
      await sql(cluster, db, "select count(*)::int as n from pg_largeobject_metadata"),
    ).toEqual([{ n: 0 }]);
    expect(await tableDigests(cluster, db)).toEqual({});
  });
});

describe("an SQL error ends the restore within seconds, in one line", () => {
  it("--confirm into a target with an extra view that reads a backed-up table", async () => {
    const db = await liveCopy("view");
    await sql(
      cluster,
      db,
      "create view public.big_orders as select * from app.orders where total > 10",
    );
    const before = await state(db);
    const started = Date.now();
    const r = await drctl(
      ["restore", id, "--target-url", cluster.url(db), "--confirm", "--no-safety-backup"],
      env,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: restore into 127.0.0.1:${cluster.port}/${db} failed and the server reports its transaction rolled back, the target is as it was: ERROR: cannot drop table app.orders because other objects depend on it`,
    ]);
    expect(await state(db)).toEqual(before);
    expect(leftovers()).toEqual([]);
  });

  it("--tables of a table with a citext column into a target without the extension", async () => {
    const db = await createDatabase(cluster, "citext");
    const started = Date.now();
    const r = await drctl(
      ["restore", id, "--target-url", cluster.url(db), "--tables", "app.users"],
      env,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: restore into 127.0.0.1:${cluster.port}/${db} failed and the server reports its transaction rolled back, the target is as it was: ERROR: type "public.citext" does not exist`,
    ]);
    expect(await tableDigests(cluster, db)).toEqual({});
    expect(leftovers()).toEqual([]);
  });
});

describe("faults in the middle of a --confirm restore", () => {
  it("psql killed: drctl stops pg_restore and says the server rolled back", async () => {
    const { bin, mark, psqlPid } = slowBin("killpsql", 20);
    const db = await liveCopy("killpsql");
    const before = await state(db);
    const started = Date.now();
    const running = drctl(
      ["restore", id, "--target-url", cluster.url(db), "--confirm", "--no-safety-backup"],
      { ...env, PG_BIN: bin },
    );
    await psqlCaughtUp(db, mark);
    process.kill(Number(readFileSync(psqlPid, "utf8").trim()), "SIGKILL");
    const r = await running;
    // Well before pg_restore's 20 s pause ends: drctl did not wait for it.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: restore into 127.0.0.1:${cluster.port}/${db} failed and the server reports its transaction rolled back, the target is as it was: psql was killed by SIGKILL`,
    ]);
    expect(await state(db)).toEqual(before);
    expect(leftovers()).toEqual([]);
  });

  it("the server restarted: psql fails on its next statement, the transaction is gone", async () => {
    const { bin, mark } = slowBin("restart", 10);
    const db = await liveCopy("restart");
    const before = await state(db);
    const running = drctl(
      ["restore", id, "--target-url", cluster.url(db), "--confirm", "--no-safety-backup"],
      { ...env, PG_BIN: bin },
    );
    await psqlCaughtUp(db, mark);
    await cluster.stop();
    await cluster.start();
    const r = await running;
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^drctl restore: restore into 127\\.0\\.0\\.1:${cluster.port}/${db} failed and the server reports its transaction rolled back, the target is as it was: (FATAL: terminating connection due to administrator command|.*connection to server .*)$`,
        ),
      ),
    ]);
    expect(await state(db)).toEqual(before);
    expect(leftovers()).toEqual([]);
  });

  it("SIGTERM after most of the script ran: keys, policy, trigger, index and rows as they were", async () => {
    const { bin, mark } = slowBin("sigterm", 20);
    const db = await liveCopy("late");
    const before = await state(db);
    const running = drctl(
      ["restore", id, "--target-url", cluster.url(db), "--confirm", "--no-safety-backup"],
      { ...env, PG_BIN: bin },
    );
    await psqlCaughtUp(db, mark);
    process.emit("SIGTERM", "SIGTERM");
    const r = await running;
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: interrupted by SIGTERM; pg_restore and psql stopped and the server reports the transaction rolled back: target 127.0.0.1:${cluster.port}/${db} is as it was before the restore`,
    ]);
    expect(await state(db)).toEqual(before);
    expect(leftovers()).toEqual([]);
  });
});

describe("after a SIGKILL of drctl", () => {
  it("the next restore removes the plaintext copy of the dump the killed one left in TMPDIR", async () => {
    const { bin, mark } = slowBin("sigkill", 30);
    const db = await createDatabase(cluster, "sigkill");
    const child = spawn(
      process.execPath,
      [join(__dirname, "../../drctl/bin/drctl"), "restore", id, "--target-url", cluster.url(db)],
      {
        env: { PATH: process.env.PATH, ...env, PG_BIN: bin },
        stdio: "ignore",
        detached: true,
      },
    );
    for (let i = 0; i < 1200 && !existsSync(mark); i++) await sleep(50);
    const left = leftovers();
    expect(left).toEqual([expect.stringMatching(new RegExp(`^drctl-restore-${child.pid}-`))]);
    expect(readdirSync(join(tmp, left[0]))).toContain("dump");
    process.kill(-child.pid!, "SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const next = await createDatabase(cluster, "after_kill");
    const r = await drctl(["restore", id, "--target-url", cluster.url(next)], env);
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(leftovers()).toEqual([]);
    // The killed restore's session ended with it: nothing of it was committed.
    expect(await tableDigests(cluster, db)).toEqual({});
  });
});

describe("txid_status tells what became of a transaction", () => {
  // https://www.postgresql.org/docs/current/functions-info.html: txid_status reports
  // "committed", "aborted" or "in progress" for a recent transaction.
  async function open(db: string): Promise<{ c: Client; txid: string; pid: number }> {
    const c = new Client({ connectionString: cluster.url(db) });
    await c.connect();
    await c.query("begin");
    const { rows } = await c.query<{ t: string; p: number }>(
      "select txid_current()::text as t, pg_backend_pid() as p",
    );
    return { c, txid: rows[0].t, pid: rows[0].p };
  }
  const connect = async (): Promise<Client> => {
    const c = new Client({ connectionString: cluster.url("postgres") });
    await c.connect();
    return c;
  };

  it("committed, rolled back, and a session still open is ended and reported rolled back", async () => {
    const a = await open("postgres");
    await a.c.query("commit");
    await a.c.end();
    expect(await transactionOutcome({ connect, txid: a.txid, pid: a.pid })).toEqual({
      outcome: "committed",
    });
    const b = await open("postgres");
    await b.c.query("rollback");
    await b.c.end();
    expect(await transactionOutcome({ connect, txid: b.txid, pid: b.pid })).toEqual({
      outcome: "rolled back",
    });
    const c = await open("postgres");
    c.c.on("error", () => undefined);
    expect(await transactionOutcome({ connect, txid: c.txid, pid: c.pid })).toEqual({
      outcome: "rolled back",
    });
    await c.c.end().catch(() => undefined);
  });
});
