import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Client } from "pg";
import { writeCheck } from "../../../drctl/src/failover/sql";
import { quoteIdent } from "./fenceSql";
import { type Bounds, connect, type DbTarget, messageOf, targetFromEnv } from "./connect";

/**
 * The plan's last step, in the region being activated: the promoted database takes writes, the
 * smoke SQL answers, and the data at risk is measured from the heartbeat the primary writes.
 * A database that is not writable yet throws, so Region switch retries the step every retry
 * interval until its timeout (the promotion's reboot takes minutes); the result, returned, is
 * what the execution report records.
 */

export interface CheckReport {
  readonly writable: true;
  /** Whether the old primary's fence had reached this database through replication and was lifted. */
  readonly fenceLifted: boolean;
  readonly smoke: readonly { readonly sql: string; readonly rows: number }[];
  /**
   * Seconds between the reference time and the last heartbeat the promoted database holds from
   * before it: the writes the old primary may have taken that never arrived. Null when the
   * heartbeat table is missing or has no beat before the reference (`heartbeat` says why).
   */
  readonly dataAtRiskSeconds: number | null;
  readonly heartbeat: string;
  /** The time the data at risk is measured against, and where it came from. */
  readonly reference: { readonly at: string; readonly source: "event" | "checkStart" };
}

export const CHECK_BOUNDS: Bounds = { connectMs: 5_000, statementMs: 15_000 };

/**
 * The data at risk, in seconds, before `reference`: the heartbeat table (drstack.heartbeat,
 * beat_at timestamptz, written every few seconds on the primary) holds on the promoted database
 * every beat the replica received; the last one before the reference bounds what was lost.
 */
export const DATA_AT_RISK_SQL =
  "SELECT extract(epoch from $1::timestamptz - max(beat_at)) AS seconds FROM drstack.heartbeat WHERE beat_at < $1";

/**
 * The fence of the old primary is `ALTER DATABASE … SET default_transaction_read_only = on`,
 * kept in the shared catalog pg_db_role_setting, so a replica that replayed it carries it into
 * its promotion (physical replication copies the whole cluster:
 * https://www.postgresql.org/docs/current/warm-standby.html). The session default is user
 * settable, so this session turns it off for itself, then resets the database's default.
 * https://www.postgresql.org/docs/current/sql-alterdatabase.html
 */
export async function liftFence(client: Client, database: string): Promise<boolean> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
      WHERE d.datname = $1 AND s.setrole = 0
        AND 'default_transaction_read_only=on' = ANY (s.setconfig)`,
    [database],
  );
  if (Number(rows[0].n) === 0) return false;
  await client.query("SET default_transaction_read_only = off");
  await client.query(`ALTER DATABASE ${quoteIdent(database)} RESET default_transaction_read_only`);
  return true;
}

async function dataAtRisk(
  client: Client,
  reference: Date,
): Promise<{ seconds: number | null; heartbeat: string }> {
  try {
    const { rows } = await client.query<{ seconds: string | null }>(DATA_AT_RISK_SQL, [
      reference.toISOString(),
    ]);
    const s = rows[0]?.seconds;
    return s === null || s === undefined
      ? { seconds: null, heartbeat: "no heartbeat before the reference time" }
      : { seconds: Number(s), heartbeat: "ok" };
  } catch (e) {
    return { seconds: null, heartbeat: `heartbeat not readable: ${messageOf(e)}` };
  }
}

export async function check(
  target: DbTarget,
  smokeSql: readonly string[],
  reference: { at: Date; source: "event" | "checkStart" },
  bounds: Bounds = CHECK_BOUNDS,
  tls = true,
): Promise<CheckReport> {
  const client = await connect(target, bounds, tls);
  try {
    const recovering = await client.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r");
    if (recovering.rows[0].r) {
      throw new Error(
        "the database is still a replica (pg_is_in_recovery() is true); not promoted yet",
      );
    }
    const fenceLifted = await liftFence(client, target.database);
    await writeCheck(client);
    const smoke = [];
    for (const sql of smokeSql) smoke.push({ sql, rows: (await client.query(sql)).rows.length });
    const risk = await dataAtRisk(client, reference.at);
    return {
      writable: true,
      fenceLifted,
      smoke,
      dataAtRiskSeconds: risk.seconds,
      heartbeat: risk.heartbeat,
      reference: { at: reference.at.toISOString(), source: reference.source },
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The reference time. No AWS page documents the event Region switch hands a custom-action
 * function, so the function reads the execution's start only when its caller names it
 * (`executionStartTime`, ISO 8601, e.g. from GetPlanExecution's startTime); otherwise it uses its
 * own start, which is later, so the figure is then an upper bound.
 */
export function referenceOf(
  event: unknown,
  now: Date,
): { at: Date; source: "event" | "checkStart" } {
  const given = (event as { executionStartTime?: unknown } | null)?.executionStartTime;
  if (typeof given === "string" && !Number.isNaN(Date.parse(given))) {
    return { at: new Date(given), source: "event" };
  }
  return { at: now, source: "checkStart" };
}

/** The smoke SQL the stack hands the function (jobs.smokeSql, as JSON). */
export function smokeSqlOf(json: string | undefined): string[] {
  const parsed: unknown = JSON.parse(json ?? "[]");
  if (!Array.isArray(parsed) || !parsed.every((q) => typeof q === "string")) {
    throw new Error(`SMOKE_SQL must be a JSON array of SQL strings, got ${json}`);
  }
  return parsed;
}

/** The Lambda entry point (bundled as index.handler). */
export async function handler(event: unknown): Promise<CheckReport> {
  const reference = referenceOf(event, new Date());
  const secrets = new SecretsManagerClient({});
  const target = await targetFromEnv(process.env, secrets, CHECK_BOUNDS.connectMs);
  return check(target, smokeSqlOf(process.env.SMOKE_SQL), reference);
}
