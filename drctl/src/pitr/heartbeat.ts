import type { Client } from "pg";

/**
 * The heartbeat that measures the data at risk in seconds (docs/restore-testing.md, "Data at risk").
 * The primary writes `now()` into `drstack.heartbeat(beat_at)` every HEARTBEAT_INTERVAL_SECONDS
 * (pg_cron, scheduled by HEARTBEAT_SCHEDULE_SQL); the row reaches the standby by streaming
 * replication like every other commit, so on the standby `now − max(beat_at)` is how much of the
 * primary's history the standby does not have yet, plus at most one interval. While the primary
 * lives that is the data a disaster would lose now; once it is gone the value only grows, and
 * `time of failure − last heartbeat replayed` is the window of commits that were lost.
 *
 * The table name and column are a contract: the region-switch post-check reads `max(beat_at)`.
 */

export const HEARTBEAT_TABLE = "drstack.heartbeat";

/** Seconds between two heartbeats: the resolution of every RPO figure the stack reports. */
export const HEARTBEAT_INTERVAL_SECONDS = 5;

/** The pg_cron job name (cron.schedule_in_database replaces a job of the same name). */
export const HEARTBEAT_JOB = "drstack-heartbeat";

/** The table, in the application's database (one row, moved forward in place). */
export const HEARTBEAT_TABLE_SQL = `create schema if not exists drstack;
create table if not exists drstack.heartbeat (beat_at timestamptz not null);
comment on table drstack.heartbeat is 'dr-stack: written every few seconds on the primary by pg_cron; now() - max(beat_at) on a standby is the data at risk';`;

/**
 * What pg_cron runs on the primary: one row, updated in place (no table growth), inserted when
 * missing. One statement, so a heartbeat is one commit.
 */
export const HEARTBEAT_WRITE_SQL =
  "with moved as (update drstack.heartbeat set beat_at = now() returning 1) " +
  "insert into drstack.heartbeat (beat_at) select now() where not exists (select 1 from moved)";

/**
 * The schedule, run once as the RDS master in the database named by the `cron.database_name`
 * parameter (where pg_cron keeps its jobs). Interval schedules in seconds ('5 seconds') exist from
 * pg_cron 1.5; schedule_in_database runs the job in the application's database.
 * https://github.com/citusdata/pg_cron (README: "'[1-59] seconds'", cron.schedule_in_database)
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL_pg_cron.html
 */
export function heartbeatScheduleSql(
  database: string,
  seconds = HEARTBEAT_INTERVAL_SECONDS,
): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) {
    throw new Error(`[database] must be a plain PostgreSQL name, got "${database}"`);
  }
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 59) {
    throw new Error(`[seconds] pg_cron interval schedules take 1 to 59 seconds, got ${seconds}`);
  }
  return (
    `create extension if not exists pg_cron;\n` +
    `select cron.schedule_in_database('${HEARTBEAT_JOB}', '${seconds} seconds', ` +
    `$$${HEARTBEAT_WRITE_SQL}$$, '${database}');`
  );
}

export interface HeartbeatReading {
  /** The newest heartbeat this server has (replayed, on a standby). */
  readonly lastBeat: Date | null;
  /** The server's clock when it answered. */
  readonly at: Date;
  /** `at − lastBeat` in seconds: the data at risk now. Null when no heartbeat was ever written. */
  readonly ageSeconds: number | null;
  readonly inRecovery: boolean;
}

/** Reads the heartbeat on `client` (the standby's replica, in its own region). */
export async function readHeartbeat(client: Pick<Client, "query">): Promise<HeartbeatReading> {
  const { rows } = await client.query<{ beat: Date | null; at: Date; recovery: boolean }>(
    `select max(beat_at) as beat, clock_timestamp() as at, pg_is_in_recovery() as recovery
       from ${HEARTBEAT_TABLE}`,
  );
  const row = rows[0];
  const ageSeconds = row.beat ? (row.at.getTime() - row.beat.getTime()) / 1000 : null;
  return { lastBeat: row.beat, at: row.at, ageSeconds, inRecovery: row.recovery };
}

/**
 * The window of commits a failure lost: everything the primary committed after the last heartbeat
 * the standby replayed and before it failed. Both ends are reported, and its length in seconds.
 */
export function lostWindow(
  failedAt: Date,
  lastBeat: Date,
): { from: string; to: string; seconds: number } {
  return {
    from: lastBeat.toISOString(),
    to: failedAt.toISOString(),
    seconds: Math.max(0, (failedAt.getTime() - lastBeat.getTime()) / 1000),
  };
}
