import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { tableReadability } from "../../drctl/src/postgres/rowSecurity";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * Which tables a login reads completely, decided from the catalog, against a real PostgreSQL 15
 * and a login like the stack's backup login: pg_read_all_data and no BYPASSRLS (RDS grants no
 * BYPASSRLS to the roles its master user creates). The rules each case states are PostgreSQL's
 * (https://www.postgresql.org/docs/current/ddl-rowsecurity.html, https://www.postgresql.org/docs/current/sql-createpolicy.html):
 * owners bypass row security unless the table FORCEs it; with row security on and no policy, no
 * row is visible; policies for PUBLIC or for a role the login has the privileges of apply to it;
 * visible rows are (any permissive) AND (every restrictive). pg_dump without
 * --enable-row-security sets row_security off and fails on a table whose policies would apply
 * (https://www.postgresql.org/docs/current/app-pgdump.html).
 */

let cluster: LocalCluster;
let db: string;
let work: string;

const loginUrl = (user: string): string =>
  `postgresql://${user}:${user}-pw@127.0.0.1:${cluster.port}/${db}`;

async function readabilityAs(user: string) {
  const client = new Client({ connectionString: loginUrl(user) });
  await client.connect();
  try {
    return await tableReadability(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  cluster = await startCluster();
  db = await createDatabase(cluster, "rowsec");
  work = mkdtempSync(join(tmpdir(), "drctl-rowsec-"));
  await sql(
    cluster,
    db,
    `create role app_owner;
     create role auditors;
     create role dr_backup login password 'dr_backup-pw';
     grant pg_read_all_data to dr_backup;
     grant auditors to dr_backup;
     create role reporter login password 'reporter-pw';
     create schema billing authorization app_owner;
     create table billing.customers (id bigint primary key, name text not null);
     create table billing.invoices (id bigint primary key, tenant text not null,
       customer_id bigint references billing.customers, total numeric(12,2) not null);
     create table billing.audit_log (id bigint primary key, tenant text not null, entry text);
     create table billing.payments (id bigint primary key, tenant text not null, amount numeric);
     create table billing.refunds (id bigint primary key, tenant text not null, amount numeric);
     alter table billing.customers owner to app_owner;
     alter table billing.invoices owner to app_owner;
     alter table billing.audit_log owner to app_owner;
     alter table billing.payments owner to app_owner;
     alter table billing.refunds owner to app_owner;
     insert into billing.customers values (1, 'acme'), (2, 'globex');
     insert into billing.invoices select g, case when g % 2 = 0 then 'acme' else 'globex' end, 1 + g % 2, g
       from generate_series(1, 40) g;
     insert into billing.audit_log select g, 'acme', 'entry ' || g from generate_series(1, 10) g;
     insert into billing.payments select g, 'acme', g from generate_series(1, 7) g;
     insert into billing.refunds select g, 'globex', g from generate_series(1, 3) g;
     -- tenant isolation for everyone: the backup login sees no row of it
     alter table billing.invoices enable row level security;
     create policy tenant_isolation on billing.invoices
       using (tenant = current_setting('app.tenant', true));
     -- read in full through a role the login is a member of
     alter table billing.audit_log enable row level security;
     create policy auditors_read on billing.audit_log for select to auditors using (true);
     -- a permissive USING (true) for PUBLIC, narrowed by a restrictive policy
     alter table billing.payments enable row level security;
     create policy everyone on billing.payments for all using (true);
     create policy only_acme on billing.payments as restrictive for select
       using (tenant = 'acme');
     -- row security on, no policy at all: nothing visible
     alter table billing.refunds enable row level security;
     grant usage on schema billing to reporter;
     grant select on billing.customers to reporter;`,
  );
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

describe("tableReadability", () => {
  it("names the tables row security hides rows of from a pg_read_all_data login, with the fix", async () => {
    const r = await readabilityAs("dr_backup");
    expect(r.unreadable).toEqual([
      {
        table: "billing.invoices",
        reason: "row security is on and no policy lets dr_backup read every row",
        fix: "CREATE POLICY dr_backup_read ON billing.invoices FOR SELECT TO dr_backup USING (true)",
      },
      {
        table: "billing.payments",
        reason: "a restrictive row security policy applies to dr_backup and can hide rows",
        fix: "drop or narrow the restrictive policy so it does not apply to dr_backup, or ALTER ROLE dr_backup BYPASSRLS",
      },
      {
        table: "billing.refunds",
        reason: "row security is on and no policy lets dr_backup read every row",
        fix: "CREATE POLICY dr_backup_read ON billing.refunds FOR SELECT TO dr_backup USING (true)",
      },
    ]);
    // A FOR SELECT ... TO auditors USING (true) policy applies through membership.
    expect(r.readThroughPolicy).toEqual(["billing.audit_log"]);
    // What the function says is what the server does: the login sees none of the 40 invoices
    // and 3 refunds, and all 10 audit entries.
    const seen = await sqlAs("dr_backup", [
      "select count(*)::int as n from billing.invoices",
      "select count(*)::int as n from billing.audit_log",
      "select count(*)::int as n from billing.refunds",
    ]);
    expect(seen).toEqual([0, 10, 0]);
  });

  it("names the tables a login without SELECT cannot read at all", async () => {
    const r = await readabilityAs("reporter");
    expect(r.unreadable.map((t) => [t.table, t.reason, t.fix])).toEqual(
      ["audit_log", "invoices", "payments", "refunds"].map((t) => [
        `billing.${t}`,
        "reporter has no SELECT privilege on it",
        "GRANT pg_read_all_data TO reporter",
      ]),
    );
    expect(r.readThroughPolicy).toEqual([]);
  });

  it("lets the owner through unless the table forces row security on it", async () => {
    await sql(
      cluster,
      db,
      `alter role app_owner login password 'app_owner-pw';
       create table billing.ledger (id int) ; alter table billing.ledger owner to app_owner;
       alter table billing.ledger enable row level security;`,
    );
    try {
      expect((await readabilityAs("app_owner")).unreadable.map((t) => t.table)).not.toContain(
        "billing.ledger",
      );
      await sql(cluster, db, "alter table billing.ledger force row level security");
      expect((await readabilityAs("app_owner")).unreadable.map((t) => t.table)).toContain(
        "billing.ledger",
      );
    } finally {
      await sql(cluster, db, "drop table billing.ledger; alter role app_owner nologin");
    }
  });

  it("finds nothing for a superuser", async () => {
    const client = new Client({ connectionString: cluster.url(db) });
    await client.connect();
    try {
      expect(await tableReadability(client)).toEqual({
        checked: 5,
        unreadable: [],
        readThroughPolicy: [],
      });
    } finally {
      await client.end();
    }
  });
});

async function sqlAs(user: string, queries: string[]): Promise<number[]> {
  const client = new Client({ connectionString: loginUrl(user) });
  await client.connect();
  try {
    const out: number[] = [];
    for (const q of queries) out.push((await client.query<{ n: number }>(q)).rows[0].n);
    return out;
  } finally {
    await client.end();
  }
}

describe("drctl backup as a login that row security hides rows from", { timeout: 120_000 }, () => {
  it("refuses up front (exit 2), names each table and its fix, and writes nothing", async () => {
    const dir = join(work, "refused");
    const store = pathToFileURL(dir).href;
    const r = await drctl(["backup", "--tier", "daily", "--store", store, "--compress", "none"], {
      DATABASE_URL: loginUrl("dr_backup"),
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(plainErrors(r.stderr)).toEqual([
      `drctl backup: dr_backup cannot read every row of 3 table(s) in 127.0.0.1:${cluster.port}/${db}, ` +
        "so a backup would miss data; nothing was written: " +
        "billing.invoices: row security is on and no policy lets dr_backup read every row; run " +
        "CREATE POLICY dr_backup_read ON billing.invoices FOR SELECT TO dr_backup USING (true); " +
        "billing.payments: a restrictive row security policy applies to dr_backup and can hide rows; " +
        "run drop or narrow the restrictive policy so it does not apply to dr_backup, or ALTER ROLE dr_backup BYPASSRLS; " +
        "billing.refunds: row security is on and no policy lets dr_backup read every row; run " +
        "CREATE POLICY dr_backup_read ON billing.refunds FOR SELECT TO dr_backup USING (true)",
    ]);
    expect(readdirSafe(dir)).toEqual([]);
    // The database is as it was: drctl suggests the policies, it never creates them.
    const policies = await sql<{ p: string }>(
      cluster,
      db,
      "select polrelid::regclass || '.' || polname as p from pg_policy order by 1",
    );
    expect(policies.map((p) => p.p)).toEqual([
      "billing.audit_log.auditors_read",
      "billing.invoices.tenant_isolation",
      "billing.payments.everyone",
      "billing.payments.only_acme",
    ]);
  });

  it("with the suggested policies, dumps every row through them (--enable-row-security)", async () => {
    await sql(
      cluster,
      db,
      `create policy dr_backup_read on billing.invoices for select to dr_backup using (true);
       create policy dr_backup_read on billing.refunds for select to dr_backup using (true);
       drop policy only_acme on billing.payments;`,
    );
    const dir = join(work, "through-policies");
    const store = pathToFileURL(dir).href;
    const r = await drctl(["backup", "--tier", "daily", "--store", store, "--compress", "none"], {
      DATABASE_URL: loginUrl("dr_backup"),
    });
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    // The archive's data section, as pg_restore prints it: every row of every table.
    const restore = findPgBinary("pg_restore");
    const out = spawnSync(
      restore.path,
      ["--data-only", "-f", "-", join(dir, "daily", id, "dump")],
      { encoding: "utf8" },
    );
    expect(out.status).toBe(0);
    expect(copyRows(out.stdout)).toEqual({
      "billing.audit_log": 10,
      "billing.customers": 2,
      "billing.invoices": 40,
      "billing.payments": 7,
      "billing.refunds": 3,
    });
  });
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Rows per table in a plain-format data dump: the lines between each COPY and its `\.`. */
function copyRows(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  let table: string | undefined;
  for (const line of text.split("\n")) {
    const m = /^COPY (\S+) /.exec(line);
    if (m) {
      table = m[1];
      out[table] = 0;
    } else if (line === "\\.") table = undefined;
    else if (table !== undefined) out[table] += 1;
  }
  return out;
}
