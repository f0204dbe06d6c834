import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster, tableDigests } from "../support/postgres";

/**
 * The restore paths on a schema nobody here wrote: pagila (test/fixtures/pagila, PostgreSQL
 * licence), with `customer` referenced by seven foreign keys, `payment` partitioned by month,
 * triggers on every table, views and a materialized view over the restored tables. A large object
 * and a citext column are added here, not in the fixture.
 */
const FIXTURE = join(__dirname, "../fixtures/pagila");
let cluster: LocalCluster;
let bare: LocalCluster;
let work: string;
let dir: string;
let env: NodeJS.ProcessEnv;
let sourceDb: string;
let id: string;
const bin = dirname(findPgBinary("pg_dump").path);

function schemaOnly(c: LocalCluster, db: string): string {
  return execFileSync(
    join(bin, "pg_dump"),
    ["--schema-only", "--no-owner", "--dbname", c.url(db)],
    {
      encoding: "utf8",
    },
  ).replace(/^\\(un)?restrict .*$/gm, "");
}

beforeAll(async () => {
  [cluster, bare] = await Promise.all([startCluster(), startCluster()]);
  sourceDb = await createDatabase(cluster, "pagila");
  execFileSync(
    join(bin, "psql"),
    [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      "-f",
      join(FIXTURE, "schema.sql"),
      "-f",
      join(FIXTURE, "data.sql"),
      cluster.url(sourceDb),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  await sql(
    cluster,
    sourceDb,
    `create extension citext;
     alter table public.customer add column nickname citext;
     update public.customer set nickname = 'Nick' || customer_id;
     create table public.customer_contract (customer_id int primary key references public.customer, scan oid not null);
     insert into public.customer_contract select customer_id, lo_from_bytea(0, convert_to('contract of ' || customer_id, 'UTF8'))
       from public.customer where customer_id <= 3;`,
  );
  work = mkdtempSync(join(tmpdir(), "drctl-pagila-"));
  dir = join(work, "store");
  env = { DRCTL_STORE: pathToFileURL(dir).href };
  const r = await drctl(
    ["backup", "--tier", "daily", "--database-url", cluster.url(sourceDb)],
    env,
  );
  expect(plainErrors(r.stderr)).toEqual([]);
  id = r.stdout.trim();
}, 180_000);

afterAll(async () => {
  await Promise.all([cluster?.destroy(), bare?.destroy()]);
  rmSync(work, { recursive: true, force: true });
});

/** A live copy of pagila, restored from the backup, ready for a bad migration. */
async function liveCopy(prefix: string): Promise<string> {
  const db = await createDatabase(cluster, prefix);
  const r = await drctl(["restore", id, "--target-url", cluster.url(db)], env);
  expect(plainErrors(r.stderr)).toEqual([]);
  return db;
}

const FOREIGN_KEYS = `select conrelid::regclass::text as t, conname, convalidated,
  pg_get_constraintdef(oid) as def from pg_constraint where contype = 'f' order by 1, 2`;

describe("pagila: backup, then drill into a bare server", () => {
  it("gives a database whose pg_dump --schema-only is the source's", async () => {
    const r = await drctl(
      [
        "drill",
        "--scratch-url",
        bare.url("postgres"),
        "--tier",
        "daily",
        "--keep",
        "--json",
        "--no-metrics",
      ],
      env,
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { passed: boolean; scratch: { database: string } };
    expect(report.passed).toBe(true);
    expect(schemaOnly(bare, report.scratch.database)).toEqual(schemaOnly(cluster, sourceDb));
    expect(await tableDigests(bare, report.scratch.database)).toEqual(
      await tableDigests(cluster, sourceDb),
    );
  });
});

describe("pagila: --tables --confirm after a bad migration on the live database", () => {
  it("customer (seven foreign keys point at it): rows back, keys kept, other tables untouched", async () => {
    const db = await liveCopy("customer");
    await sql(
      cluster,
      db,
      `update public.customer set email = null, last_name = 'MIGRATED';
       insert into public.payment (customer_id, staff_id, rental_id, amount, payment_date)
         values (5, 1, 5, 7.77, '2022-03-15 12:00+00');`,
    );
    const keysBefore = await sql(cluster, db, FOREIGN_KEYS);
    const others = await tableDigests(cluster, db);
    const r = await drctl(
      ["restore", id, "--target-url", cluster.url(db), "--tables", "customer", "--confirm"],
      env,
    );
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const safety = /^pre-restore backup (\S+) holds /m.exec(r.stdout)?.[1];
    expect(safety).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(r.stdout).toContain("rows replaced, definition kept: public.customer\n");
    expect(r.stdout).toContain(
      "kept and checked: foreign key public.rental rental_customer_id_fkey → public.customer\n",
    );
    const after = await tableDigests(cluster, db);
    expect(after["public.customer"]).toEqual(
      (await tableDigests(cluster, sourceDb))["public.customer"],
    );
    // Every other table as it was before the restore, the payment written since included.
    for (const t of Object.keys(others).filter((k) => k !== "public.customer")) {
      expect(after[t], t).toEqual(others[t]);
    }
    expect(await sql(cluster, db, FOREIGN_KEYS)).toEqual(keysBefore);
    expect(
      await sql(
        cluster,
        db,
        "select tgname, tgenabled::text as e from pg_trigger where tgrelid = 'public.customer'::regclass and not tgisinternal",
      ),
    ).toEqual([{ tgname: "last_updated", e: "O" }]);
    expect(await sql(cluster, db, "select count(*)::int as n from public.customer_list")).toEqual([
      { n: 30 },
    ]);

    // The pre-restore backup undoes it.
    const undo = await drctl(
      [
        "restore",
        safety!,
        "--tier",
        "pre-restore",
        "--target-url",
        cluster.url(db),
        "--tables",
        "customer",
        "--confirm",
        "--no-safety-backup",
      ],
      env,
    );
    expect(plainErrors(undo.stderr)).toEqual([]);
    expect(
      await sql(
        cluster,
        db,
        "select count(*)::int as n from public.customer where last_name = 'MIGRATED' and email is null",
      ),
    ).toEqual([{ n: 30 }]);
  });

  it("refuses, naming the key, when a row written since points at a customer the backup lacks", async () => {
    const db = await liveCopy("refuse");
    await sql(
      cluster,
      db,
      `insert into public.customer (customer_id, store_id, first_name, last_name, address_id)
         values (31, 1, 'NEW', 'CUSTOMER', 5);
       insert into public.rental (rental_date, inventory_id, customer_id, staff_id)
         values ('2022-06-01 10:00+00', 1, 31, 1);`,
    );
    const before = await tableDigests(cluster, db);
    const keysBefore = await sql(cluster, db, FOREIGN_KEYS);
    const r = await drctl(
      [
        "restore",
        id,
        "--target-url",
        cluster.url(db),
        "--tables",
        "customer",
        "--confirm",
        "--no-safety-backup",
      ],
      env,
    );
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      expect.stringMatching(
        /^drctl restore: .* ERROR: drctl: the restored rows would break foreign key (rental_customer_id_fkey of public\.rental|customer_contract_customer_id_fkey of public\.customer_contract|payment_\w+_customer_id_fkey of public\.payment\w*), a table this restore does not replace \(Key \(customer_id\)=\(31\) is not present in table "customer"\.\); nothing was changed: add public\.\w+ to --tables or fix its rows first$/,
      ),
    ]);
    expect(await tableDigests(cluster, db)).toEqual(before);
    expect(await sql(cluster, db, FOREIGN_KEYS)).toEqual(keysBefore);
  });

  it("payment (partitioned): naming the parent puts every partition's rows back", async () => {
    const db = await liveCopy("payment");
    await sql(
      cluster,
      db,
      "delete from public.payment where amount > 2; update public.payment set amount = 0",
    );
    const r = await drctl(
      [
        "restore",
        id,
        "--target-url",
        cluster.url(db),
        "--tables",
        "payment",
        "--confirm",
        "--no-safety-backup",
      ],
      env,
    );
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ok       public.payment_p2022_03  expected 26  restored 26\n");
    const source = await tableDigests(cluster, sourceDb);
    const after = await tableDigests(cluster, db);
    for (const t of Object.keys(source)) expect(after[t], t).toEqual(source[t]);
  });

  it("naming one partition restores only it, with a warning", async () => {
    const db = await liveCopy("partition");
    await sql(cluster, db, "update public.payment set amount = 0");
    const r = await drctl(
      [
        "restore",
        id,
        "--target-url",
        cluster.url(db),
        "--tables",
        "payment_p2022_02",
        "--confirm",
        "--no-safety-backup",
      ],
      env,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      '"message":"public.payment_p2022_02 is a partition of public.payment: only its own rows are restored; name public.payment to restore the whole partitioned table"',
    );
    expect(
      await sql(
        cluster,
        db,
        "select count(*)::int as n from public.payment_p2022_02 where amount = 0",
      ),
    ).toEqual([{ n: 0 }]);
    expect(
      await sql(
        cluster,
        db,
        "select count(*)::int as n from public.payment_p2022_03 where amount <> 0",
      ),
    ).toEqual([{ n: 0 }]);
  });
});

describe("the safety backup", () => {
  it("a restore whose safety backup fails does not start", async () => {
    const db = await liveCopy("nosafety");
    await sql(cluster, db, "update public.customer set last_name = 'MIGRATED'");
    const before = await tableDigests(cluster, db);
    const broken = join(work, "broken-bin");
    mkdirSync(broken);
    for (const tool of ["pg_restore", "psql"]) symlinkSync(join(bin, tool), join(broken, tool));
    writeFileSync(
      join(broken, "pg_dump"),
      `#!/bin/bash\nif [ "$1" = "--version" ]; then exec "${bin}/pg_dump" --version; fi\necho "pg_dump: error: disk quota exceeded" >&2\nexit 1\n`,
    );
    chmodSync(join(broken, "pg_dump"), 0o755);
    const r = await drctl(
      ["restore", id, "--target-url", cluster.url(db), "--tables", "customer", "--confirm"],
      { ...env, PG_BIN: broken },
    );
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^drctl restore: the safety backup of 127\\.0\\.0\\.1:${cluster.port}/${db} into file://\\S+ \\(tier pre-restore\\) failed, so the restore did not start and the target is unchanged: .*disk quota exceeded.*; fix that, or pass --no-safety-backup to restore without one$`,
        ),
      ),
    ]);
    expect(await tableDigests(cluster, db)).toEqual(before);
    expect(readFileSync(join(FIXTURE, "LICENSE.txt"), "utf8")).toContain("Devrim");
  });
});
