import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * What the RDS master may do, on a real PostgreSQL (Debian's 15, as the tests install it).
 *
 * AWS documents the master user as created `WITH LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE
 * NOREPLICATION` and a member of `rds_superuser` ("Understanding the rds_superuser role",
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.rds_superuser.html).
 * PostgreSQL lets only a superuser set BYPASSRLS up to 15, and in 16 a role that has BYPASSRLS
 * itself (CREATE ROLE, https://www.postgresql.org/docs/15/sql-createrole.html and
 * https://www.postgresql.org/docs/16/sql-createrole.html). So the backup login has no BYPASSRLS:
 * tables with row-level security are read through a policy the table's owner adds for it, and
 * pg_dump runs with --enable-row-security (https://www.postgresql.org/docs/15/app-pgdump.html).
 * Only PostgreSQL 15 is installed here: the 16 rule is the cited doc's, not run.
 */

let cluster: LocalCluster;
let db: string;

const MASTER = { user: "rds_master", password: "master-pw-1" };
const BACKUP = { user: "backup", password: "backup-pw-1" };

async function as<R extends Record<string, unknown>>(
  who: { user: string; password: string },
  text: string,
): Promise<R[]> {
  const client = new Client({ host: "127.0.0.1", port: cluster.port, database: db, ...who });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

function dump(extra: string[]) {
  return spawnSync(
    findPgBinary("pg_dump").path,
    [
      "-h",
      "127.0.0.1",
      "-p",
      String(cluster.port),
      "-U",
      BACKUP.user,
      "--data-only",
      "--table=app.invoices",
      ...extra,
      db,
    ],
    { env: { ...process.env, PGPASSWORD: BACKUP.password }, encoding: "utf8" },
  );
}

const ROWS =
  /COPY app\.invoices \(id, tenant, total\) FROM stdin;\n1\tacme\t10\.00\n2\tglobex\t20\.00\n\\\.\n/;

beforeAll(async () => {
  cluster = await startCluster();
  // Passwords are checked (as RDS checks them) for every role but the test's own superuser.
  writeFileSync(
    join(cluster.dataDir, "pg_hba.conf"),
    "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
  );
  await sql(cluster, "postgres", "select pg_reload_conf()");
  db = await createDatabase(cluster, "rdsmaster");
  // The master exactly as AWS documents its attributes, and an application owning its schema.
  await sql(
    cluster,
    db,
    `create role ${MASTER.user} with login nosuperuser inherit createdb createrole noreplication
       password '${MASTER.password}';
     create role app_owner login password 'owner-pw';
     create schema app authorization app_owner;
     grant usage on schema app to public;
     set role app_owner;
     create table app.invoices (id bigint primary key, tenant text not null, total numeric(12,2) not null);
     insert into app.invoices values (1, 'acme', 10.00), (2, 'globex', 20.00);
     alter table app.invoices enable row level security;
     alter table app.invoices force row level security;
     create policy tenant_isolation on app.invoices
       using (tenant = current_setting('app.tenant', true));
     reset role;`,
  );
}, 60_000);

afterAll(async () => {
  await cluster?.destroy();
});

describe("the RDS master (NOSUPERUSER CREATEROLE) and the backup login", () => {
  it("cannot create a BYPASSRLS login, and nothing is left behind", async () => {
    await expect(
      as(MASTER, `create role ${BACKUP.user} login password '${BACKUP.password}' bypassrls`),
    ).rejects.toThrow("must be superuser to create bypassrls users");
    expect(await sql(cluster, db, `select rolname from pg_roles where rolname = 'backup'`)).toEqual(
      [],
    );
  });

  it("creates the backup login as the program does: LOGIN, a password, pg_read_all_data", async () => {
    await as(MASTER, `create role ${BACKUP.user} login password '${BACKUP.password}'`);
    await as(MASTER, `grant pg_read_all_data to ${BACKUP.user}`);
    expect(
      await sql(
        cluster,
        db,
        `select r.rolcanlogin, r.rolbypassrls, r.rolsuper,
                array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
                      where m.member = r.oid)::text[] as member_of
         from pg_roles r where r.rolname = 'backup'`,
      ),
    ).toEqual([
      { rolcanlogin: true, rolbypassrls: false, rolsuper: false, member_of: ["pg_read_all_data"] },
    ]);
  });

  it("without a policy for it: plain pg_dump refuses, --enable-row-security silently dumps no row", () => {
    const plain = dump([]);
    expect(plain.status).toBe(1);
    expect(plain.stderr).toContain(
      'query would be affected by row-level security policy for table "invoices"',
    );
    // Exit 0 and an empty table: why drctl checks for such tables before it dumps.
    const enabled = dump(["--enable-row-security"]);
    expect(enabled.status).toBe(0);
    expect(enabled.stdout).toContain("COPY app.invoices (id, tenant, total) FROM stdin;\n\\.\n");
  });

  it("with the owner's policy FOR SELECT TO backup USING (true), --enable-row-security dumps every row", async () => {
    // Only the table's owner (or a superuser) may create a policy on it
    // (https://www.postgresql.org/docs/15/sql-createpolicy.html): the master cannot do it for
    // the application, so the application's owner adds it (docs/first-deployment.md).
    await expect(
      as(
        MASTER,
        `create policy backup_reads_all on app.invoices for select to backup using (true)`,
      ),
    ).rejects.toThrow("must be owner of table invoices");
    await as(
      { user: "app_owner", password: "owner-pw" },
      `create policy backup_reads_all on app.invoices for select to backup using (true)`,
    );
    const r = dump(["--enable-row-security"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(ROWS);
    // row_security=off still refuses the table: the flag is required, not only the policy.
    expect(dump([]).status).toBe(1);
    // Reading stays read-only: the policy is FOR SELECT and pg_read_all_data grants no write.
    await expect(as(BACKUP, `delete from app.invoices`)).rejects.toThrow(
      "permission denied for table invoices",
    );
    expect(await sql(cluster, db, `select count(*)::int as n from app.invoices`)).toEqual([
      { n: 2 },
    ]);
  });

  it("rotates passwords the way the runbook does: the master its own, then the backup login's", async () => {
    // PostgreSQL: a role may change its own password, and CREATEROLE may change another
    // non-superuser role's (https://www.postgresql.org/docs/15/sql-alterrole.html).
    const master2 = { ...MASTER, password: "master-pw-2" };
    const backup2 = { ...BACKUP, password: "backup-pw-2" };
    await as(MASTER, `alter role ${MASTER.user} password '${master2.password}'`);
    await expect(as(MASTER, "select 1")).rejects.toThrow(
      `password authentication failed for user "${MASTER.user}"`,
    );
    await as(master2, `alter role ${BACKUP.user} password '${backup2.password}'`);
    expect(await as(backup2, `select count(*)::int as n from app.invoices`)).toEqual([{ n: 2 }]);
    await expect(as(BACKUP, "select 1")).rejects.toThrow(
      `password authentication failed for user "${BACKUP.user}"`,
    );
  });
});
