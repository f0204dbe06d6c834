import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster, tableDigests } from "../support/postgres";
import { APP_SCHEMA } from "../support/appDatabase";

/**
 * A restore is faithful or it fails loudly, and a failed one leaves the target as it was (issue
 * 14, items 2 and 3): every case against a real server.
 */
let cluster: LocalCluster;
let work: string;
let dir: string;
let store: string;
let env: NodeJS.ProcessEnv;
let sourceDb: string;
let id: string;

beforeAll(async () => {
  cluster = await startCluster();
  sourceDb = await createDatabase(cluster, "shop");
  await sql(cluster, sourceDb, APP_SCHEMA);
  work = mkdtempSync(join(tmpdir(), "drctl-safety-"));
  dir = join(work, "store");
  store = pathToFileURL(dir).href;
  env = { DRCTL_STORE: store };
  const r = await drctl(
    ["backup", "--tier", "daily", "--database-url", cluster.url(sourceDb)],
    env,
  );
  expect(plainErrors(r.stderr)).toEqual([]);
  id = r.stdout.trim();
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

async function restoreInto(
  db: string,
  ...args: string[]
): Promise<Awaited<ReturnType<typeof drctl>>> {
  return drctl(["restore", id, "--target-url", cluster.url(db), ...args], env);
}

/** The catalog's view of app.orders: constraints, indexes, defaults, trigger, policy, comments. */
const ORDERS_CATALOG = `
  select
    (select string_agg(conname || ':' || contype::text, ',' order by conname) from pg_constraint
      where conrelid = 'app.orders'::regclass) as constraints,
    (select string_agg(indexname, ',' order by indexname) from pg_indexes
      where schemaname = 'app' and tablename = 'orders') as indexes,
    (select string_agg(column_name || '=' || coalesce(column_default, is_identity), ',' order by column_name)
      from information_schema.columns where table_schema = 'app' and table_name = 'orders'
      and (column_default is not null or is_identity = 'YES')) as defaults,
    (select string_agg(tgname, ',') from pg_trigger where tgrelid = 'app.orders'::regclass and not tgisinternal) as triggers,
    (select string_agg(polname, ',') from pg_policy where polrelid = 'app.orders'::regclass) as policies,
    (select relrowsecurity from pg_class where oid = 'app.orders'::regclass) as rls,
    (select relowner::regrole::text from pg_class where oid = 'app.orders'::regclass) as owner,
    (select obj_description(t.oid, 'pg_trigger') from pg_trigger t where t.tgname = 'orders_fill_note') as trigger_comment,
    (select relacl::text from pg_class where oid = 'app.orders'::regclass) as acl,
    (select pg_get_serial_sequence('app.orders', 'id')) as sequence,
    (select count(*)::int from app.orders) as rows`;

describe("restore --tables brings a table back whole", () => {
  it("a dropped table returns with its PK, FK, index, defaults, trigger, policy, comment, grants", async () => {
    const db = await createDatabase(cluster, "whole");
    expect((await restoreInto(db)).code).toBe(0);
    const before = await sql(cluster, db, ORDERS_CATALOG);
    expect(before[0]).toMatchObject({
      constraints: "orders_pkey:p,orders_total_check:c,orders_user_id_fkey:f",
      indexes: "orders_pkey,orders_user_idx",
      defaults: "id=YES,status='new'::text",
      triggers: "orders_fill_note",
      policies: "orders_visible",
      rls: true,
      owner: "app_owner",
      trigger_comment: "fills the note",
      sequence: "app.orders_id_seq",
      rows: 20,
    });
    // cascade: the materialized view reads it (and is not part of the table).
    await sql(cluster, db, "drop table app.orders cascade");
    const r = await restoreInto(db, "--tables", "app.orders", "--confirm");
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ok       app.orders  expected 20  restored 20\n");
    expect(await sql(cluster, db, ORDERS_CATALOG)).toEqual(before);
  });

  it("keeps, checks and reports the foreign keys of other tables that point at a restored table", async () => {
    const db = await createDatabase(cluster, "refby");
    expect((await restoreInto(db)).code).toBe(0);
    await sql(cluster, db, "update app.users set name = 'bad migration'");
    const r = await restoreInto(db, "--tables", "app.users", "--confirm", "--no-safety-backup");
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "kept and checked: foreign key app.orders orders_user_id_fkey → app.users\n",
    );
    expect(
      await sql(
        cluster,
        db,
        "select conname, convalidated, confrelid::regclass::text as ref from pg_constraint where conrelid = 'app.orders'::regclass and contype = 'f'",
      ),
    ).toEqual([{ conname: "orders_user_id_fkey", convalidated: true, ref: "app.users" }]);
    expect(await tableDigests(cluster, db)).toEqual(await tableDigests(cluster, sourceDb));
  });

  it("refuses, listing it, a foreign key whose referenced table is neither restored nor there", async () => {
    const db = await createDatabase(cluster, "nofk");
    const r = await restoreInto(db, "--tables", "app.orders");
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      "drctl restore: --tables cannot bring back foreign key(s) app.orders orders_user_id_fkey → app.users: the referenced table is neither restored nor in the target; add it to --tables",
    ]);
    expect(await tableDigests(cluster, db)).toEqual({});
  });
});

describe("the non-empty guard and --confirm", () => {
  it("counts every user object: a view and a sequence are not an empty database", async () => {
    const db = await createDatabase(cluster, "viewseq");
    await sql(cluster, db, "create sequence s; create view v as select 1 as x");
    const r = await restoreInto(db);
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: target 127.0.0.1:${cluster.port}/${db} is not empty (1 sequence, 1 view); restore into an empty database, or pass --confirm to replace the backup's objects in one transaction`,
    ]);
    expect(
      await sql(cluster, db, "select count(*)::int as n from pg_namespace where nspname = 'app'"),
    ).toEqual([{ n: 0 }]);
  });

  it("--confirm replaces the backup's objects in a database that already holds them", async () => {
    const db = await createDatabase(cluster, "again");
    expect((await restoreInto(db)).code).toBe(0);
    await sql(cluster, db, "delete from app.orders where id > 3");
    const r = await restoreInto(db, "--confirm");
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(await tableDigests(cluster, db)).toEqual(await tableDigests(cluster, sourceDb));
  });

  it("a restore that fails leaves the target as it was", async () => {
    const db = await createDatabase(cluster, "clash");
    // app.users as a view: --clean fails on it, after other objects were already replaced.
    await sql(
      cluster,
      db,
      "create schema app; create view app.users as select 1 as id; create table keep (x int); insert into keep values (7)",
    );
    const before = await sql(
      cluster,
      db,
      "select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('app', 'public')",
    );
    const r = await restoreInto(db, "--confirm");
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^drctl restore: restore into 127\\.0\\.0\\.1:${cluster.port}/${db} failed and the server reports its transaction rolled back, the target is as it was: ERROR: .+ "users"$`,
        ),
      ),
    ]);
    expect(await sql(cluster, db, "select x from keep")).toEqual([{ x: 7 }]);
    expect(
      await sql(cluster, db, "select relkind from pg_class where oid = 'app.users'::regclass"),
    ).toEqual([{ relkind: "v" }]);
    expect(
      await sql(
        cluster,
        db,
        "select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('app', 'public')",
      ),
    ).toEqual(before);
  });
});

/** A copy of the backup whose manifest `edit` changed (the manifest is not what the SHA-256 covers). */
function tampered(newId: string, edit: (m: Record<string, unknown>) => void): string {
  const to = join(dir, "daily", newId);
  cpSync(join(dir, "daily", id), to, { recursive: true });
  const m = JSON.parse(readFileSync(join(to, "manifest.json"), "utf8")) as Record<string, unknown>;
  m.id = newId;
  edit(m);
  writeFileSync(join(to, "manifest.json"), JSON.stringify(m));
  return newId;
}

describe("what the target cannot take is refused before it is touched", () => {
  it("an extension the server cannot provide", async () => {
    const bad = tampered(id.replace(/.{6}$/, "e0e0e0"), (m) => {
      (m.extensions as unknown[]).push({
        name: "drctl_no_such_ext",
        version: "9.9",
        schema: "public",
      });
    });
    const db = await createDatabase(cluster, "noext");
    const r = await drctl(["restore", bad, "--target-url", cluster.url(db)], env);
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: target server 127.0.0.1:${cluster.port} cannot provide extension(s) drctl_no_such_ext 9.9 that the backup uses; install them on the server (Debian: postgresql-contrib; RDS: a supported extension) and retry`,
    ]);
    expect(await tableDigests(cluster, db)).toEqual({});
  });

  it("--jobs above the connections the target has free", async () => {
    const db = await createDatabase(cluster, "conns");
    await sql(cluster, "postgres", `alter database ${db} connection limit 3`);
    const r = await restoreInto(db, "--jobs", "4");
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: --jobs 4 needs 4 connections, but target 127.0.0.1:${cluster.port}/${db} accepts only 2 more (max_connections, reserved slots, the role's and database's connection limits); lower --jobs or free connections`,
    ]);
  });
});

describe("row counts gate the commit", () => {
  const wrong = (m: Record<string, unknown>): void => {
    const t = (m.tables as { qualified: string; rows: number }[]).find(
      (x) => x.qualified === "app.users",
    )!;
    t.rows += 1;
  };

  it("--jobs 1: counts that differ roll the whole restore back (exit 2)", async () => {
    const bad = tampered(id.replace(/.{6}$/, "c0c0c1"), wrong);
    const db = await createDatabase(cluster, "count1");
    const r = await drctl(["restore", bad, "--target-url", cluster.url(db)], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("MISMATCH app.users  expected 11  restored 10\n");
    expect(r.stdout).toContain(
      `rolled back ${bad} in 127.0.0.1:${cluster.port}/${db}: 1 of 2 table(s) differ from the manifest; the target is as it was\n`,
    );
    expect(await tableDigests(cluster, db)).toEqual({});
  });

  it("--jobs 2: the empty target is put back, public schema and all", async () => {
    const bad = tampered(id.replace(/.{6}$/, "c0c0c2"), wrong);
    const db = await createDatabase(cluster, "count2");
    const publicBefore = await sql(
      cluster,
      db,
      "select nspowner::regrole::text as owner, nspacl::text as acl, obj_description(oid, 'pg_namespace') as c from pg_namespace where nspname = 'public'",
    );
    const r = await drctl(["restore", bad, "--target-url", cluster.url(db), "--jobs", "2"], env);
    expect(r.code).toBe(2);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: 1 of 2 table(s) differ from the manifest: app.users expected 11, restored 10; what it had restored was removed: target 127.0.0.1:${cluster.port}/${db} is empty again, as it was`,
    ]);
    expect(
      await sql(cluster, db, "select count(*)::int as n from pg_namespace where nspname = 'app'"),
    ).toEqual([{ n: 0 }]);
    expect(
      await sql(
        cluster,
        db,
        "select count(*)::int as n from pg_extension where extname = 'citext'",
      ),
    ).toEqual([{ n: 0 }]);
    expect(
      await sql(
        cluster,
        db,
        "select nspowner::regrole::text as owner, nspacl::text as acl, obj_description(oid, 'pg_namespace') as c from pg_namespace where nspname = 'public'",
      ),
    ).toEqual(publicBefore);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("SIGTERM during a restore", () => {
  it("stops pg_restore and psql, rolls back and says the target is as it was", async () => {
    // pg_restore writes the whole script, then hangs as a long restore does: psql is mid-transaction.
    const bin = join(work, "hang-bin");
    const realBin = dirname(findPgBinary("pg_restore").path);
    mkdirSync(bin);
    for (const tool of ["psql", "pg_dump"]) symlinkSync(join(realBin, tool), join(bin, tool));
    const pidFile = join(work, "pg_restore.pid");
    writeFileSync(
      join(bin, "pg_restore"),
      `#!/bin/bash
if [ "$1" = "--version" ] || [ "$1" = "-l" ]; then exec "${realBin}/pg_restore" "$@"; fi
echo $$ > "${pidFile}"
"${realBin}/pg_restore" "$@"
exec sleep 120
`,
    );
    chmodSync(join(bin, "pg_restore"), 0o755);
    const db = await createDatabase(cluster, "sigterm");
    const running = drctl(["restore", id, "--target-url", cluster.url(db)], {
      ...env,
      PG_BIN: bin,
    });
    for (let i = 0; i < 400 && !existsSync(pidFile); i++) await sleep(50);
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    // Wait until psql's transaction holds the restored rows (visible to itself only).
    for (let i = 0; i < 200; i++) {
      const busy = await sql(
        cluster,
        "postgres",
        "select count(*)::int as n from pg_stat_activity where datname = $1 and state like 'idle in transaction%'",
        [db],
      );
      if ((busy[0] as { n: number }).n > 0) break;
      await sleep(50);
    }
    const psqlPids = (
      await sql<{ pid: number }>(
        cluster,
        "postgres",
        "select pid from pg_stat_activity where datname = $1 and application_name = 'psql'",
        [db],
      )
    ).map((r) => r.pid);
    expect(psqlPids).toHaveLength(1);
    process.emit("SIGTERM", "SIGTERM");
    const r = await running;
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl restore: interrupted by SIGTERM; pg_restore and psql stopped and the server reports the transaction rolled back: target 127.0.0.1:${cluster.port}/${db} is as it was before the restore`,
    ]);
    expect(alive(pid)).toBe(false);
    for (let i = 0; i < 100; i++) {
      const left = await sql(
        cluster,
        "postgres",
        "select count(*)::int as n from pg_stat_activity where datname = $1",
        [db],
      );
      if ((left[0] as { n: number }).n === 0) break;
      await sleep(50);
    }
    expect(
      await sql(
        cluster,
        "postgres",
        "select count(*)::int as n from pg_stat_activity where datname = $1",
        [db],
      ),
    ).toEqual([{ n: 0 }]);
    expect(await tableDigests(cluster, db)).toEqual({});
  });
});
