import { Client } from "pg";
import { LocalCluster } from "../../drctl/src/postgres/localCluster";

/**
 * A throwaway PostgreSQL cluster for a test file, tuned for speed (no durability: nothing here
 * survives the test anyway).
 */
export async function startCluster(): Promise<LocalCluster> {
  const cluster = await LocalCluster.init({
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
  });
  await cluster.start();
  return cluster;
}

/** Runs SQL as the superuser against `database`. */
export async function sql<R extends Record<string, unknown> = Record<string, unknown>>(
  cluster: LocalCluster,
  database: string,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new Client({ connectionString: cluster.url(database) });
  await client.connect();
  try {
    const result = await client.query<R>(text, params);
    return result.rows;
  } finally {
    await client.end();
  }
}

let counter = 0;

/** Creates a new empty database with a unique name and returns that name. */
export async function createDatabase(cluster: LocalCluster, prefix = "db"): Promise<string> {
  const name = `${prefix}_${process.pid}_${++counter}`;
  await sql(cluster, "postgres", `create database ${name}`);
  return name;
}

/**
 * md5 of every row of every user table, ordered, keyed by `format('%I.%I')`: two databases with
 * equal maps hold the same data.
 */
export async function tableDigests(
  cluster: LocalCluster,
  database: string,
): Promise<Record<string, string>> {
  const client = new Client({ connectionString: cluster.url(database) });
  await client.connect();
  try {
    const { rows } = await client.query<{ q: string }>(
      `select format('%I.%I', n.nspname, c.relname) as q
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')
         and n.nspname !~ '^pg_(toast|temp_)'
       order by 1`,
    );
    const out: Record<string, string> = {};
    for (const { q } of rows) {
      const { rows: d } = await client.query<{ md5: string | null }>(
        `select md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as md5 from ${q} t`,
      );
      out[q] = d[0].md5 ?? "";
    }
    return out;
  } finally {
    await client.end();
  }
}
