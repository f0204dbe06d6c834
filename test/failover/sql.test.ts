import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replayAgeSeconds } from "../../drctl/src/failover/checks";
import {
  fenceDatabase,
  NotAReplica,
  readReplicaStatus,
  writeCheck,
} from "../../drctl/src/failover/sql";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * The SQL of the failover, against a real PostgreSQL server (a mock accepts anything): drctl's
 * checks, and the fence the plan's fence function runs (components/regionSwitch/lambdas/fence.ts).
 * - ALTER DATABASE … SET changes the default of sessions started afterwards, not of open ones
 *   (https://www.postgresql.org/docs/current/sql-alterdatabase.html);
 * - pg_terminate_backend ends a session (https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-SIGNAL);
 * - default_transaction_read_only is a default a session may change
 *   (https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-DEFAULT-TRANSACTION-READ-ONLY);
 * - pg_is_in_recovery() and the replay functions
 *   (https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-RECOVERY-INFO-TABLE).
 */
let cluster: LocalCluster;
let db: string;

const userUrl = (user: string): string => {
  const url = new URL(cluster.url(db));
  url.username = user;
  return url.toString();
};

async function session(user: string): Promise<Client> {
  const c = new Client({ connectionString: userUrl(user) });
  // A terminated session emits an error event; without a listener it would crash the test run.
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

beforeAll(async () => {
  cluster = await startCluster();
  db = await createDatabase(cluster, "fence");
  await sql(cluster, db, "CREATE ROLE app LOGIN");
  await sql(cluster, db, "CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)");
  await sql(
    cluster,
    db,
    "GRANT INSERT, SELECT ON orders TO app; GRANT USAGE ON SEQUENCE orders_id_seq TO app",
  );
}, 120_000);

afterAll(async () => cluster?.destroy());

describe("the SQL fence of an old primary", () => {
  it("makes new sessions read-only, ends open non-superuser sessions, and reports its WAL position", async () => {
    const open = await session("app");
    await open.query("INSERT INTO orders (note) VALUES ('before the fence')");
    const admin = await session("postgres");
    try {
      const result = await fenceDatabase(admin, db);
      expect(result.terminated).toBe(1);
      expect(result.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      await expect(open.query("SELECT 1")).rejects.toThrow();
      const left = await admin.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND usename = 'app'",
        [db],
      );
      expect(left.rows[0]).toEqual({ n: "0" });

      const next = await session("app");
      try {
        await expect(next.query("INSERT INTO orders (note) VALUES ('after')")).rejects.toThrow(
          "cannot execute INSERT in a read-only transaction",
        );
        await expect(writeCheck(next)).rejects.toThrow(
          "cannot execute CREATE TABLE in a read-only transaction",
        );
      } finally {
        await next.end();
      }
    } finally {
      await admin.end();
    }
  });

  it("does not stop a session that turns the default off: it is a fence for well-behaved clients only", async () => {
    const rogue = await session("app");
    try {
      await rogue.query("SET default_transaction_read_only = off");
      await rogue.query("INSERT INTO orders (note) VALUES ('written past the fence')");
      const rows = await sql<{ n: string }>(
        cluster,
        db,
        "SELECT count(*) AS n FROM orders WHERE note = 'written past the fence'",
      );
      expect(rows[0].n).toBe("1");
    } finally {
      await rogue.end();
    }
  });
});

describe("the write check", () => {
  it("the write check passes on a writable database and leaves nothing behind", async () => {
    const other = await createDatabase(cluster, "writable");
    const c = new Client({ connectionString: cluster.url(other) });
    await c.connect();
    try {
      await writeCheck(c);
      const { rows } = await c.query("SELECT to_regclass('drctl_failover_write_check') AS t");
      expect(rows[0]).toEqual({ t: null });
    } finally {
      await c.end();
    }
  });
});

describe("the replica status read", () => {
  it("refuses a database that is not in recovery, naming the check", async () => {
    const c = new Client({ connectionString: cluster.url(db) });
    await c.connect();
    try {
      // The preflight's guard against starting the plan over a promoted primary rests on this.
      const err = await readReplicaStatus(c).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotAReplica);
      expect((err as Error).message).toContain(
        "the database is not a replica (pg_is_in_recovery() is false)",
      );
    } finally {
      await c.end();
    }
  });

  it("computes the RPO bound as RDS computes ReplicaLag: replica clock minus last replayed commit", () => {
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.Replication.ReadReplicas.Monitor.html
    const status = {
      now: new Date("2025-03-01T12:01:00Z"),
      lastReplayAt: new Date("2025-03-01T11:59:56Z"),
      replayLsn: "0/3000148",
      receiveLsn: "0/3000148",
    };
    expect(replayAgeSeconds(status)).toBe(64);
    expect(replayAgeSeconds({ ...status, lastReplayAt: null })).toBeUndefined();
  });
});
