import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replayAgeSeconds } from "../../drctl/src/failover/checks";
import { NotAReplica, readReplicaStatus, writeCheck } from "../../drctl/src/failover/sql";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * The SQL drctl's failover checks rely on, against a real PostgreSQL server (a mock accepts
 * anything): pg_is_in_recovery() and the replay functions
 * (https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-RECOVERY-INFO-TABLE),
 * and DDL refused in a read-only transaction.
 */
let cluster: LocalCluster;
let db: string;

beforeAll(async () => {
  cluster = await startCluster();
  db = await createDatabase(cluster, "checks");
  await sql(cluster, db, "CREATE ROLE app LOGIN");
  await sql(cluster, db, "CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)");
  await sql(
    cluster,
    db,
    "GRANT INSERT, SELECT ON orders TO app; GRANT USAGE ON SEQUENCE orders_id_seq TO app",
  );
}, 120_000);

afterAll(async () => cluster?.destroy());

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
