import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { freePort } from "../../drctl/src/postgres/localCluster";
import { check, referenceOf, smokeSqlOf } from "../../components/regionSwitch/lambdas/check";
import type { DbTarget } from "../../components/regionSwitch/lambdas/connect";
import { readLogin, targetFromEnv } from "../../components/regionSwitch/lambdas/connect";
import { fence } from "../../components/regionSwitch/lambdas/fence";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * The plan's fence and check functions against a real PostgreSQL server. The login is not a
 * superuser, as on RDS, where the master user owns the database it created and is a member of
 * rds_superuser, which holds pg_signal_backend
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.html):
 * owning the database is what ALTER DATABASE … SET needs
 * (https://www.postgresql.org/docs/current/sql-alterdatabase.html), pg_signal_backend what
 * pg_terminate_backend of other roles' sessions needs
 * (https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-SIGNAL).
 */
let cluster: LocalCluster;

const BOUNDS = { connectMs: 3_000, statementMs: 3_000 };

async function newDatabase(): Promise<DbTarget> {
  const db = await createDatabase(cluster, "rs");
  await sql(cluster, db, `ALTER DATABASE ${db} OWNER TO dradmin`);
  await sql(cluster, db, "ALTER SCHEMA public OWNER TO dradmin");
  await sql(
    cluster,
    db,
    `CREATE TABLE public.orders (id serial PRIMARY KEY, note text NOT NULL);
     ALTER TABLE public.orders OWNER TO dradmin;
     GRANT INSERT, SELECT ON public.orders TO app; GRANT USAGE ON SEQUENCE public.orders_id_seq TO app;
     CREATE SCHEMA drstack AUTHORIZATION dradmin;
     CREATE TABLE drstack.heartbeat (beat_at timestamptz NOT NULL);
     ALTER TABLE drstack.heartbeat OWNER TO dradmin`,
  );
  return { host: "127.0.0.1", port: cluster.port, database: db, user: "dradmin", password: "x" };
}

async function session(target: DbTarget, user: string): Promise<Client> {
  const c = new Client({
    host: target.host,
    port: target.port,
    database: target.database,
    user,
  });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

const dbSettings = (db: string) =>
  sql<{ setconfig: string[] }>(
    cluster,
    "postgres",
    `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
      WHERE d.datname = $1 AND s.setrole = 0`,
    [db],
  );

beforeAll(async () => {
  cluster = await startCluster();
  await sql(cluster, "postgres", "CREATE ROLE dradmin LOGIN; GRANT pg_signal_backend TO dradmin");
  await sql(cluster, "postgres", "CREATE ROLE app LOGIN");
}, 120_000);

afterAll(async () => cluster?.destroy());

describe("the fence function", () => {
  it("makes the old primary read-only for new sessions and ends the open ones", async () => {
    const target = await newDatabase();
    const open = await session(target, "app");
    await open.query("INSERT INTO orders (note) VALUES ('before the fence')");

    const report = await fence(target, BOUNDS, false);
    expect(report).toMatchObject({ fenced: true, terminated: 1 });
    expect(report.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    await expect(open.query("SELECT 1")).rejects.toThrow();

    // The target's state, read back: the database default is read-only, a new session cannot write.
    expect(await dbSettings(target.database)).toEqual([
      { setconfig: ["default_transaction_read_only=on"] },
    ]);
    const next = await session(target, "app");
    try {
      await expect(next.query("INSERT INTO orders (note) VALUES ('after')")).rejects.toThrow(
        "cannot execute INSERT in a read-only transaction",
      );
    } finally {
      await next.end();
    }
    const rows = await sql(cluster, target.database, "SELECT note FROM orders ORDER BY id");
    expect(rows).toEqual([{ note: "before the fence" }]);
  });

  it("reports, within its bound, a database that does not answer, and leaves the step to go on", async () => {
    const target = { ...(await newDatabase()), port: await freePort() };
    const started = Date.now();
    const report = await fence(target, BOUNDS, false);
    expect(report.fenced).toBe(false);
    expect(report.reason).toMatch(/^database did not answer: .*ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(BOUNDS.connectMs + 2_000);
  });

  it("reports a fence the database refuses (a login that does not own it), changing nothing", async () => {
    const target = await newDatabase();
    const report = await fence({ ...target, user: "app" }, BOUNDS, false);
    expect(report.fenced).toBe(false);
    expect(report.reason).toBe(`fence refused: must be owner of database ${target.database}`);
    expect(await dbSettings(target.database)).toEqual([]);
  });
});

describe("the check function", () => {
  it("lifts a replicated fence, checks writes, runs the smoke SQL and measures the data at risk", async () => {
    const target = await newDatabase();
    // The old primary's fence reached the replica through replication; here it is set directly.
    await fence(target, BOUNDS, false);
    const reference = new Date("2026-12-07T21:00:00.000Z");
    await sql(
      cluster,
      target.database,
      `BEGIN READ WRITE;
       INSERT INTO drstack.heartbeat (beat_at) VALUES
         ('2026-12-07T20:59:30Z'), ('2026-12-07T20:59:42.5Z'), ('2026-12-07T21:00:05Z');
       COMMIT`,
    );

    const report = await check(
      target,
      ["SELECT * FROM orders", "SELECT 1 UNION ALL SELECT 2"],
      { at: reference, source: "event" },
      BOUNDS,
      false,
    );
    expect(report).toEqual({
      writable: true,
      fenceLifted: true,
      smoke: [
        { sql: "SELECT * FROM orders", rows: 0 },
        { sql: "SELECT 1 UNION ALL SELECT 2", rows: 2 },
      ],
      // The last beat before 21:00:00 is 20:59:42.5: 17.5 s of writes may not have arrived.
      dataAtRiskSeconds: 17.5,
      heartbeat: "ok",
      reference: { at: "2026-12-07T21:00:00.000Z", source: "event" },
    });
    // The fence is gone from the catalog and an application session writes again.
    expect(await dbSettings(target.database)).toEqual([]);
    const app = await session(target, "app");
    try {
      await app.query("INSERT INTO orders (note) VALUES ('after the failover')");
    } finally {
      await app.end();
    }
    // The write check left nothing behind.
    expect(
      await sql(cluster, target.database, "SELECT to_regclass('drctl_failover_write_check') AS t"),
    ).toEqual([{ t: null }]);
  });

  it("reports no figure, and why, when the heartbeat table is missing; the check still passes", async () => {
    const target = await newDatabase();
    await sql(cluster, target.database, "DROP TABLE drstack.heartbeat");
    const report = await check(target, [], { at: new Date(), source: "checkStart" }, BOUNDS, false);
    expect(report.fenceLifted).toBe(false);
    expect(report.dataAtRiskSeconds).toBeNull();
    expect(report.heartbeat).toBe(
      'heartbeat not readable: relation "drstack.heartbeat" does not exist',
    );
  });

  it("throws on a database that refuses writes, so Region switch retries the step", async () => {
    const target = await newDatabase();
    // A login that may neither lift the fence nor create tables: the check must fail, not pass.
    await sql(cluster, target.database, "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    await expect(
      check(
        { ...target, user: "app" },
        [],
        { at: new Date(), source: "checkStart" },
        BOUNDS,
        false,
      ),
    ).rejects.toThrow("permission denied for schema public");
  });
});

describe("the functions' inputs", () => {
  it("the reference time is the event's executionStartTime when given, else the check's own start", () => {
    const now = new Date("2026-12-07T21:10:00Z");
    expect(referenceOf({ executionStartTime: "2026-12-07T21:01:02Z" }, now)).toEqual({
      at: new Date("2026-12-07T21:01:02Z"),
      source: "event",
    });
    expect(referenceOf({ executionStartTime: "yesterday-ish" }, now)).toEqual({
      at: now,
      source: "checkStart",
    });
    expect(referenceOf(null, now)).toEqual({ at: now, source: "checkStart" });
  });

  it("the smoke SQL arrives as a JSON array of strings", () => {
    expect(smokeSqlOf('["SELECT 1"]')).toEqual(["SELECT 1"]);
    expect(smokeSqlOf(undefined)).toEqual([]);
    expect(() => smokeSqlOf('{"q":1}')).toThrow(
      'SMOKE_SQL must be a JSON array of SQL strings, got {"q":1}',
    );
  });

  it("reads the login from the master secret in its SecretString, the shape Secrets Manager returns", async () => {
    // GetSecretValue returns the JSON text in SecretString.
    // https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
    const sm = mockClient(SecretsManagerClient);
    try {
      sm.on(GetSecretValueCommand, { SecretId: "acme-dr-usw2/db/master" }).resolves({
        Name: "acme-dr-usw2/db/master",
        SecretString: JSON.stringify({
          username: "dradmin",
          password: "s3cret",
          host: "acme-dr-usw2-pg.abc.us-west-2.rds.amazonaws.com",
          port: 5432,
        }),
      });
      const target = await targetFromEnv(
        {
          DB_HOST: "acme-dr-usw2-pg.abc.us-west-2.rds.amazonaws.com",
          DB_PORT: "5432",
          DB_NAME: "app",
          DB_SECRET_ID: "acme-dr-usw2/db/master",
        },
        new SecretsManagerClient({ region: "us-west-2" }),
        1_000,
      );
      expect(target).toEqual({
        host: "acme-dr-usw2-pg.abc.us-west-2.rds.amazonaws.com",
        port: 5432,
        database: "app",
        user: "dradmin",
        password: "s3cret",
      });
      sm.on(GetSecretValueCommand, { SecretId: "empty" }).resolves({ SecretString: "{}" });
      await expect(readLogin(new SecretsManagerClient({}), "empty", 1_000)).rejects.toThrow(
        'secret empty has no username and password; expected {"username","password"}',
      );
      await expect(
        targetFromEnv(
          { DB_SECRET_ID: "acme-dr-usw2/db/master" },
          new SecretsManagerClient({}),
          1_000,
        ),
      ).rejects.toThrow("DB_HOST is not set; the stack sets it on the function");
    } finally {
      sm.restore();
    }
  });
});
