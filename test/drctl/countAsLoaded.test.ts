import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import { countAsLoaded } from "../../drctl/src/restore/jobs";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * The restore's row check starts on a table as soon as pg_restore --verbose reports its data
 * loaded. count(*) takes ACCESS SHARE, which waits behind the ACCESS EXCLUSIVE lock that ALTER
 * TABLE … ADD PRIMARY KEY holds while it builds the index
 * (https://www.postgresql.org/docs/15/explicit-locking.html, table-level lock modes); such a table
 * is left, after lock_timeout, to the count after pg_restore.
 */
describe("countAsLoaded", () => {
  let cluster: LocalCluster;
  let db: string;
  let dir: string;
  const tables = [
    { schema: "shop", name: "orders", qualified: "shop.orders", rows: 300 },
    { schema: "shop", name: "customers", qualified: "shop.customers", rows: 40 },
  ];

  beforeAll(async () => {
    cluster = await startCluster();
    db = await createDatabase(cluster, "early");
    await sql(
      cluster,
      db,
      `create schema shop;
       create table shop.customers (id int primary key);
       insert into shop.customers select generate_series(1, 40);
       create table shop.orders (id int primary key, customer int references shop.customers);
       insert into shop.orders select g, 1 + g % 40 from generate_series(1, 300) g;`,
    );
    dir = join(mkdtempSync(join(tmpdir(), "drctl-early-")), "dump");
    execFileSync(findPgBinary("pg_dump").path, ["-Fd", "-f", dir, `--dbname=${cluster.url(db)}`]);
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  });

  it("counts a loaded table at once and leaves a locked one to the count after pg_restore", async () => {
    const listing = execFileSync(findPgBinary("pg_restore").path, ["-l", dir], {
      encoding: "utf8",
    });
    const dataId = (name: string): number =>
      Number(new RegExp(`^(\\d+); \\d+ \\d+ TABLE DATA shop ${name} `, "m").exec(listing)![1]);
    const client = new Client({ connectionString: cluster.url(db) });
    const locker = new Client({ connectionString: cluster.url(db) });
    await client.connect();
    await locker.connect();
    try {
      await locker.query("begin");
      await locker.query("lock table shop.orders in access exclusive mode");
      const early = countAsLoaded(client, tables, dir);
      early.line(`pg_restore: finished item ${dataId("orders")} TABLE DATA orders`);
      early.line(`pg_restore: finished item ${dataId("customers")} TABLE DATA customers`);
      early.line("pg_restore: launching item 3 INDEX orders_pkey");
      const counted = await early.settle();
      expect([...counted.entries()].map(([t, c]) => [t.qualified, c])).toEqual([
        ["shop.customers", { table: "shop.customers", expected: 40, actual: 40 }],
      ]);
      // The timed-out count left no transaction open on the connection the restore goes on with.
      const { rows } = await client.query<{ s: string }>("select txid_current_if_assigned() as s");
      expect(rows[0].s).toBeNull();
    } finally {
      await locker.query("rollback");
      await locker.end();
      await client.end();
    }
  });
});
