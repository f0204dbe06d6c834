import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * The `backup` login that the program creates (components/database/roles.ts: pg_read_all_data and
 * BYPASSRLS) against a real PostgreSQL: pg_dump as that login must dump every table, those with
 * row-level security included. pg_dump sets row_security=off, so a role that does not bypass RLS
 * stops at the first table with a policy
 * (https://www.postgresql.org/docs/current/app-pgdump.html, --enable-row-security;
 * https://www.postgresql.org/docs/current/ddl-rowsecurity.html: "roles with the BYPASSRLS
 * attribute bypass the row security system").
 */

let cluster: LocalCluster;
let db: string;

beforeAll(async () => {
  cluster = await startCluster();
  db = await createDatabase(cluster, "rls");
  // An application's schema: an owner that is not the dumping role, a tenant policy, FORCE'd.
  await sql(
    cluster,
    db,
    `create role app_owner;
     create table public.invoices (id bigint primary key, tenant text not null, total numeric(12,2) not null);
     alter table public.invoices owner to app_owner;
     insert into public.invoices values (1, 'acme', 10.00), (2, 'globex', 20.00);
     alter table public.invoices enable row level security;
     alter table public.invoices force row level security;
     create policy tenant_isolation on public.invoices
       using (tenant = current_setting('app.tenant', true));
     create role backup_plain login password 'plain-pw';
     grant pg_read_all_data to backup_plain;
     create role backup login password 'backup-pw' bypassrls;
     grant pg_read_all_data to backup;`,
  );
}, 60_000);

afterAll(async () => {
  await cluster?.destroy();
});

function dumpAs(user: string, password: string) {
  const pgDump = findPgBinary("pg_dump");
  return spawnSync(
    pgDump.path,
    [
      "-h",
      "127.0.0.1",
      "-p",
      String(cluster.port),
      "-U",
      user,
      "--format=plain",
      "--data-only",
      db,
    ],
    { env: { ...process.env, PGPASSWORD: password }, encoding: "utf8" },
  );
}

describe("the backup login dumps tables with row-level security", () => {
  it("pg_read_all_data alone stops at the first RLS table", () => {
    const r = dumpAs("backup_plain", "plain-pw");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'query would be affected by row-level security policy for table "invoices"',
    );
  });

  it("pg_read_all_data with BYPASSRLS dumps every row", () => {
    const r = dumpAs("backup", "backup-pw");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /COPY public\.invoices \(id, tenant, total\) FROM stdin;\n1\tacme\t10\.00\n2\tglobex\t20\.00\n/,
    );
  });
});
