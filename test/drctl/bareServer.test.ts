import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "pg";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";
import { APP_SCHEMA } from "../support/appDatabase";

/**
 * Issue 14's "Done when": an application's database — roles, grants (to roles the target lacks),
 * an owner role, default privileges, row-level security, foreign keys, indexes, defaults, an owned
 * sequence, a trigger, a materialized view, comments and a contrib extension — goes backup →
 * drill into a scratch server that has only `postgres`, and `pg_dump --schema-only` of the source
 * and of the restored copy are the same.
 */
let source: LocalCluster;
let scratch: LocalCluster;
let work: string;
let store: string;
let sourceDb: string;
let id: string;

/** `pg_dump --schema-only`, without the per-run `\restrict` keys (PostgreSQL 15.14+). */
function schemaDump(cluster: LocalCluster, db: string): string {
  const out = execFileSync(
    findPgBinary("pg_dump").path,
    ["--schema-only", `--dbname=${cluster.url(db)}`],
    { encoding: "utf8" },
  );
  return out
    .split("\n")
    .filter((l) => !/^\\(un)?restrict /.test(l))
    .join("\n");
}

beforeAll(async () => {
  [source, scratch] = await Promise.all([startCluster(), startCluster()]);
  sourceDb = await createDatabase(source, "app");
  await sql(source, sourceDb, APP_SCHEMA);
  work = mkdtempSync(join(tmpdir(), "drctl-bare-"));
  store = pathToFileURL(join(work, "store")).href;
  const r = await drctl(["backup", "--tier", "daily"], {
    DRCTL_STORE: store,
    DATABASE_URL: source.url(sourceDb),
  });
  expect(plainErrors(r.stderr)).toEqual([]);
  id = r.stdout.trim();
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.destroy(), scratch?.destroy()]);
  rmSync(work, { recursive: true, force: true });
});

describe("backup → drill into a server with only postgres", () => {
  it("the scratch server starts with no role but postgres and the predefined ones", async () => {
    const roles = await sql<{ rolname: string }>(
      scratch,
      "postgres",
      "select rolname from pg_roles where rolname !~ '^pg_' order by 1",
    );
    expect(roles.map((r) => r.rolname)).toEqual(["postgres"]);
  });

  it("records the roles and the extension the database needs", async () => {
    const list = await drctl(["list", "--json"], { DRCTL_STORE: store });
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id, status: "complete" })]);
    const dry = await drctl(["restore", id, "--dry-run", "--target-url", scratch.url("postgres")], {
      DRCTL_STORE: store,
    });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("roles:    would create app_owner, app_reader, app_writer\n");
  });

  it("passes, and the restored schema is the source's", async () => {
    const r = await drctl(
      [
        "drill",
        "--scratch-url",
        scratch.url("postgres"),
        "--keep",
        "--json",
        "--smoke-sql",
        "select 1 from app.users where email = 'U1@EXAMPLE.COM'",
      ],
      { DRCTL_STORE: store },
    );
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { passed: boolean; scratch: { database: string } };
    expect(report.passed).toBe(true);
    const restored = report.scratch.database;
    const dumped = schemaDump(source, sourceDb);
    // Not two empty dumps: everything the test database was made of is in it.
    for (const part of [
      "CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;",
      "ALTER TABLE app.orders OWNER TO app_owner;",
      // (pg_dump 15 prints two spaces before TO here)
      "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app GRANT SELECT ON TABLES  TO app_reader;",
      "GRANT SELECT ON TABLE app.users TO app_reader;",
      "GRANT INSERT(note) ON TABLE app.orders TO app_writer;",
      "ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;",
      "CREATE POLICY orders_visible ON app.orders FOR SELECT TO app_reader USING ((total > (5)::numeric));",
      "ALTER SEQUENCE app.users_id_seq OWNED BY app.users.id;",
      "CREATE TRIGGER orders_fill_note BEFORE INSERT ON app.orders",
      "CREATE MATERIALIZED VIEW app.user_totals AS",
      "COMMENT ON POLICY orders_visible ON app.orders IS 'readers see orders above 5';",
      "ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES app.users(id);",
      "CREATE INDEX orders_user_idx ON app.orders USING btree (user_id);",
    ]) {
      expect(dumped).toContain(part);
    }
    expect(schemaDump(scratch, restored)).toBe(dumped);
    // The roles it created can neither log in nor have a password.
    expect(
      await sql(
        scratch,
        "postgres",
        "select rolname, rolcanlogin, rolpassword is null as nopass from pg_authid where rolname like 'app_%' order by 1",
      ),
    ).toEqual([
      { rolname: "app_owner", rolcanlogin: false, nopass: true },
      { rolname: "app_reader", rolcanlogin: false, nopass: true },
      { rolname: "app_writer", rolcanlogin: false, nopass: true },
    ]);
    // Data too: the citext column, the materialized view, RLS as app_reader.
    expect(await sql(scratch, restored, "select count(*)::int as n from app.user_totals")).toEqual([
      { n: 10 },
    ]);
    const reader = new Client({ connectionString: scratch.url(restored) });
    await reader.connect();
    try {
      await reader.query("set role app_reader");
      const { rows } = await reader.query("select count(*)::int as n from app.orders");
      expect(rows).toEqual([{ n: 15 }]);
    } finally {
      await reader.end();
    }
  });
});
