import type { ReplicaStatus } from "./ports";

/** The part of a pg Client the failover SQL uses: tests pass a real client on a local server. */
export interface SqlClient {
  query<R extends Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[] }>;
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
