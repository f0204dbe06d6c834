import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { countInSnapshot } from "../../drctl/src/parallel/counts";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * countInSnapshot against the real server: the extra connections import the snapshot that the
 * backup's transaction exported, so they count what that snapshot saw, not what was committed
 * since. PostgreSQL: a repeatable-read transaction that runs SET TRANSACTION SNAPSHOT before its
 * first query sees exactly the exporting transaction's snapshot, and the snapshot can be imported
 * only while the exporting transaction is open
 * (https://www.postgresql.org/docs/15/sql-set-transaction.html,
 * https://www.postgresql.org/docs/15/functions-admin.html#FUNCTIONS-SNAPSHOT-SYNCHRONIZATION).
 */
describe("row counts on N connections in the dump's exported snapshot", () => {
  let cluster: LocalCluster;
  let db: string;
  const tables = [
    { schema: "shop", name: "orders", qualified: "shop.orders" },
    { schema: "shop", name: "customers", qualified: "shop.customers" },
    { schema: "shop", name: "audit_2025", qualified: "shop.audit_2025" },
    { schema: "public", name: "empty", qualified: "public.empty" },
  ];

  beforeAll(async () => {
    cluster = await startCluster();
    db = await createDatabase(cluster, "counts");
    await sql(
      cluster,
      db,
      `create schema shop;
       create table shop.customers (id int primary key);
       insert into shop.customers select generate_series(1, 1200);
       create table shop.orders (id int primary key, customer int references shop.customers);
       insert into shop.orders select g, 1 + g % 1200 from generate_series(1, 3400) g;
       create table shop.audit_2025 (id int, what text);
       insert into shop.audit_2025 select g, 'x' from generate_series(1, 77) g;
       create table public.empty (id int);`,
    );
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  const open = async (): Promise<Client> => {
    const c = new Client({ connectionString: cluster.url(db) });
    await c.connect();
    return c;
  };

  it("counts what the snapshot saw, in the tables' order, though rows changed after it", async () => {
    const backup = await open();
    const writer = await open();
    let connected = 0;
    try {
      await backup.query("begin isolation level repeatable read, read only");
      const { rows } = await backup.query<{ s: string }>("select pg_export_snapshot() as s");
      // Commits after the snapshot: every table changes, one grows from empty.
      await writer.query(
        `insert into shop.customers select generate_series(1201, 1500);
         delete from shop.orders where id > 3000;
         insert into shop.audit_2025 select g, 'y' from generate_series(1, 23) g;
         insert into public.empty values (1), (2);`,
      );
      const counts = await countInSnapshot(backup, tables, rows[0].s, 3, async () => {
        connected++;
        return open();
      });
      expect(counts).toEqual([
        { ...tables[0], rows: 3400 },
        { ...tables[1], rows: 1200 },
        { ...tables[2], rows: 77 },
        { ...tables[3], rows: 0 },
      ]);
      // jobs 3: two connections besides the backup's own.
      expect(connected).toBe(2);
      // The writes did commit: a fresh transaction sees them, so the counts above are the snapshot's.
      const { rows: now } = await writer.query<{ n: number }>(
        "select (select count(*) from shop.orders)::int as n",
      );
      expect(now[0].n).toBe(3000);
    } finally {
      await backup.query("rollback").catch(() => undefined);
      await backup.end();
      await writer.end();
    }
  });

  it("fails when the snapshot is no longer importable, and closes its extra connections", async () => {
    const backup = await open();
    const extra: Client[] = [];
    try {
      await backup.query("begin isolation level repeatable read, read only");
      const { rows } = await backup.query<{ s: string }>("select pg_export_snapshot() as s");
      // The exporting transaction ends: its snapshot can no longer be imported.
      await backup.query("commit");
      await expect(
        countInSnapshot(backup, tables, rows[0].s, 2, async () => {
          const c = await open();
          extra.push(c);
          return c;
        }),
      ).rejects.toThrow(/invalid snapshot identifier/);
      expect(extra).toHaveLength(1);
      // Ended by countInSnapshot: a closed client refuses queries.
      await expect(extra[0].query("select 1")).rejects.toThrow();
    } finally {
      await backup.end();
    }
  });

  it("refuses a snapshot id that is not one PostgreSQL prints", async () => {
    const backup = await open();
    try {
      await expect(
        countInSnapshot(backup, tables, "1'; drop table x; --", 2, open),
      ).rejects.toThrow(/unexpected snapshot id/);
    } finally {
      await backup.end();
    }
  });
});
