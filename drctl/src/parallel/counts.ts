import type { Client } from "pg";
import type { TableCount } from "../manifest";

/**
 * Row counts of `tables` on `jobs` connections at once, all in the dump's snapshot: each extra
 * connection opens a repeatable-read transaction and imports the snapshot that the backup's own
 * transaction exported, which stays importable while that transaction is open
 * (https://www.postgresql.org/docs/current/sql-set-transaction.html, SET TRANSACTION SNAPSHOT;
 * pg_dump -j synchronizes its workers the same way). A serial count(*) of every table after a
 * parallel dump is a tail as long as a single-stream read of the data. Results keep `tables`' order.
 */
export async function countInSnapshot(
  client: Client,
  tables: readonly Omit<TableCount, "rows">[],
  snapshot: string,
  jobs: number,
  connect: () => Promise<Client>,
): Promise<TableCount[]> {
  if (!/^[0-9A-Fa-f-]+$/.test(snapshot)) throw new Error(`unexpected snapshot id "${snapshot}"`);
  const extra: Client[] = [];
  try {
    for (let i = 1; i < Math.min(jobs, tables.length); i++) {
      const c = await connect();
      extra.push(c);
      await c.query("begin isolation level repeatable read, read only");
      await c.query(`set transaction snapshot '${snapshot}'`);
    }
    const out = new Array<TableCount>(tables.length);
    let next = 0;
    await Promise.all(
      [client, ...extra].map(async (c) => {
        while (next < tables.length) {
          const i = next++;
          const { rows } = await c.query<{ n: string }>(
            `select count(*)::bigint::text as n from ${tables[i].qualified}`,
          );
          out[i] = { ...tables[i], rows: Number(rows[0].n) };
        }
      }),
    );
    return out;
  } finally {
    await Promise.all(extra.map((c) => c.end().catch(() => undefined)));
  }
}
