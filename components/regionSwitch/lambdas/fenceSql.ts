import type { SqlClient } from "../../../drctl/src/failover/sql";

/** What the SQL fence did. */
export interface SqlFenceResult {
  /** Sessions of other users ended with pg_terminate_backend. */
  readonly terminated: number;
  /** `pg_current_wal_lsn()` once fenced: the replica has every write when it has replayed this far. */
  readonly lsn: string;
}

/** `"app"`, with embedded quotes doubled: ALTER DATABASE takes an identifier, not a parameter. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Makes `dbName` read-only for every session that starts afterwards and ends the open ones.
 * `ALTER DATABASE … SET` changes the session default for sessions that start *afterwards*
 * (https://www.postgresql.org/docs/current/sql-alterdatabase.html), so the sessions already open
 * are ended with `pg_terminate_backend`
 * (https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-SIGNAL). Sessions of
 * superusers are left alone: only a superuser may signal them, and on RDS they are `rdsadmin`'s.
 *
 * What it does not stop: `default_transaction_read_only` is a user-settable default
 * (https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-DEFAULT-TRANSACTION-READ-ONLY),
 * so any session may `SET default_transaction_read_only = off` or `BEGIN READ WRITE`, and the
 * database owner may `ALTER DATABASE … RESET` it. It keeps well-behaved clients from writing; the
 * plan's traffic step keeps clients from reaching the site at all.
 */
export async function fenceDatabase(client: SqlClient, dbName: string): Promise<SqlFenceResult> {
  await client.query(`ALTER DATABASE ${quoteIdent(dbName)} SET default_transaction_read_only = on`);
  const { rows } = await client.query<{ terminated: string }>(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid)) AS terminated
       FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
      WHERE a.datname = $1 AND a.pid <> pg_backend_pid() AND NOT r.rolsuper`,
    [dbName],
  );
  const lsn = await client.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`);
  return { terminated: Number(rows[0].terminated), lsn: lsn.rows[0].lsn };
}
