import type { ReplicaStatus } from "./ports";

/** The part of a pg Client the failover SQL uses: tests pass a real client on a local server. */
export interface SqlClient {
  query<R extends Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[] }>;
}

/** `"app"`, with embedded quotes doubled: ALTER DATABASE takes an identifier, not a parameter. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** What the SQL fence did on the old primary. */
export interface SqlFenceResult {
  /** Sessions of other users ended with pg_terminate_backend. */
  readonly terminated: number;
  /** `pg_current_wal_lsn()` once fenced: the replica has every write when it has replayed this far. */
  readonly lsn: string;
}

/** The database answered as a primary: the promotion has already run (or this is the wrong host). */
export class NotAReplica extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotAReplica";
  }
}

/**
 * What a replica knows about its own replay. `pg_last_xact_replay_timestamp()` is the commit time
 * (on the source's clock) of the last transaction replayed, NULL when none has been since start;
 * https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-RECOVERY-INFO-TABLE.
 */
export async function readReplicaStatus(client: SqlClient): Promise<ReplicaStatus> {
  const { rows } = await client.query<{
    now: Date;
    in_recovery: boolean;
    last_replay: Date | null;
    replay_lsn: string | null;
    receive_lsn: string | null;
  }>(
    `SELECT now() AS now, pg_is_in_recovery() AS in_recovery,
            pg_last_xact_replay_timestamp() AS last_replay,
            pg_last_wal_replay_lsn()::text AS replay_lsn,
            pg_last_wal_receive_lsn()::text AS receive_lsn`,
  );
  const r = rows[0];
  if (!r.in_recovery) {
    throw new NotAReplica(
      `the database is not a replica (pg_is_in_recovery() is false): it was promoted already, or this ` +
        `is the wrong endpoint; check the host in the site's master secret`,
    );
  }
  return {
    now: r.now,
    lastReplayAt: r.last_replay,
    replayLsn: r.replay_lsn,
    receiveLsn: r.receive_lsn,
  };
}

/**
 * The SQL-level fence of an old primary that still answers.
 *
 * `ALTER DATABASE … SET` changes the session default for sessions that start *afterwards*
 * (https://www.postgresql.org/docs/current/sql-alterdatabase.html), so the sessions already open
 * are ended with `pg_terminate_backend`
 * (https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-SIGNAL). Sessions of
 * superusers are left alone: only a superuser may signal them, and on RDS they are `rdsadmin`'s.
 *
 * What it does not stop: `default_transaction_read_only` is a user-settable default
 * (https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-DEFAULT-TRANSACTION-READ-ONLY),
 * so any session may `SET default_transaction_read_only = off` or `BEGIN READ WRITE`, and a
 * superuser (or the database owner) may `ALTER DATABASE … RESET` it. It keeps well-behaved clients
 * from writing; the plan's traffic step keeps clients from reaching the site at all. The plan's fence function
 * (components/regionSwitch/lambdas/fence.ts) runs it.
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

/**
 * DDL inside a transaction that is rolled back: refused by a replica and by a fenced database
 * (`default_transaction_read_only`), and leaves nothing behind on a writable primary.
 */
export async function writeCheck(client: SqlClient): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query("CREATE TABLE drctl_failover_write_check (id integer)");
  } finally {
    await client.query("ROLLBACK");
  }
}
