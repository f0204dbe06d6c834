import { Client } from "pg";

/** Bytes one dataset row takes on disk: 24 B tuple header + 8 B id + 4 B varlena + 128 B text + line pointer. */
const ROW_BYTES = 168;
export const DATASET_TABLES = ["dataset_a", "dataset_b"] as const;

/**
 * Loads about `bytes` of rows into two tables, one connection each (two cores, two loads), in one
 * generate_series statement per table: server-side, so nothing crosses the wire. The text is md5
 * hex of random numbers, which zstd squeezes about 2:1, not 50:1 like repeated text: backup and
 * restore times are then about real bytes.
 */
export async function loadDataset(url: string, bytes: number): Promise<number> {
  const rowsPerTable = Math.max(1, Math.floor(bytes / DATASET_TABLES.length / ROW_BYTES));
  await Promise.all(
    DATASET_TABLES.map(async (table) => {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`create table ${table} (id bigint not null, body text not null)`);
        await c.query(
          `insert into ${table} (id, body)
           select g, m || md5(m || 'a') || md5(m || 'b') || md5(m || 'c')
           from (select g, md5(random()::text) as m from generate_series(1, $1::bigint) g) s`,
          [rowsPerTable],
        );
        await c.query(`analyze ${table}`);
      } finally {
        await c.end();
      }
    }),
  );
  return rowsPerTable * DATASET_TABLES.length;
}

export async function databaseSize(url: string, database: string): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>("select pg_database_size($1)::text as n", [
      database,
    ]);
    return Number(rows[0].n);
  } finally {
    await c.end();
  }
}
