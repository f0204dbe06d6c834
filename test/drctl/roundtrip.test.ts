import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { Manifest } from "../../drctl/src/manifestSchema";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster, tableDigests } from "../support/postgres";
import { S3Server } from "../support/s3server";

/** Several schemas, quoted and non-ASCII identifiers, bytea, jsonb, sequences, partitions, large objects. */
const FIXTURE = `
  create schema app;
  create schema "Sales Ünïcode";
  create table app.users (id serial primary key, name text not null, avatar bytea, profile jsonb);
  insert into app.users (name, avatar, profile)
    select 'user ' || g, decode(md5(g::text) || md5((g * 7)::text), 'hex'),
           jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 3), 'ü', 'ß')
    from generate_series(1, 2000) g;
  create table "Sales Ünïcode"."Order ""Items""" ("Qty" int, "naïve" text, price numeric(10, 2));
  insert into "Sales Ünïcode"."Order ""Items""" values (1, 'café', 9.99), (2, '日本語', 0.01), (3, null, null);
  create sequence app.invoice_no start 1000;
  select setval('app.invoice_no', 4242, true);
  create table app.events (id bigint generated always as identity, at date not null, payload jsonb)
    partition by range (at);
  create table app.events_2025 partition of app.events for values from ('2025-01-01') to ('2026-01-01');
  create table app.events_2026 partition of app.events for values from ('2026-01-01') to ('2027-01-01');
  insert into app.events (at, payload)
    select date '2025-06-01' + (g % 400), jsonb_build_object('g', g) from generate_series(1, 1500) g;
  create table app.docs (id int primary key, body oid);
  insert into app.docs select g, lo_from_bytea(0, decode(repeat(md5(g::text), 200), 'hex'))
    from generate_series(1, 3) g;
`;

const LO_DIGEST = `select count(*)::int as n,
  md5(string_agg(md5(lo_get(oid)), ',' order by oid)) as digest from pg_largeobject_metadata`;

describe.each([
  { kind: "file", compression: "zstd" },
  { kind: "s3", compression: "gzip" },
])("round trip through a $kind store with $compression", ({ kind, compression }) => {
  let cluster: LocalCluster;
  let s3: S3Server | undefined;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let source: string;
  let id: string;

  beforeAll(async () => {
    cluster = await startCluster();
    source = await createDatabase(cluster, "src");
    await sql(cluster, source, FIXTURE);
    dir = mkdtempSync(join(tmpdir(), "drctl-rt-"));
    if (kind === "s3") {
      s3 = await S3Server.start();
      await s3.createBucket("dr-backups");
      // The SDK's credential chain reads the process environment, not drctl's io.env.
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });
      env = { ...s3.env(), DRCTL_STORE: "s3://dr-backups/site-a" };
    } else {
      env = { DRCTL_STORE: pathToFileURL(dir).href };
    }
    env = { ...env, DATABASE_URL: cluster.url(source), DRCTL_COMPRESS: compression };
    const r = await drctl(["backup", "--tier", "daily"], env);
    expect(r.stderr).not.toContain('"event":"error"');
    expect(r.code).toBe(0);
    id = r.stdout.trim();
  });

  afterAll(async () => {
    await s3?.stop();
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints only the sortable id and records the snapshot's row counts", async () => {
    expect(id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    const list = await drctl(["list", "--json"], env);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as { id: string; status: string; compression: string }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id, status: "complete", compression });
    if (kind === "file") {
      const manifest = Manifest.parse(
        JSON.parse(readFileSync(join(dir, "daily", id, "manifest.json"), "utf8")),
      );
      expect(manifest.tables.map((t) => [t.qualified, t.rows])).toEqual([
        ['"Sales Ünïcode"."Order ""Items"""', 3],
        ["app.docs", 3],
        ["app.events_2025", 855],
        ["app.events_2026", 645],
        ["app.users", 2000],
      ]);
      expect(manifest.source).toEqual({
        host: "127.0.0.1",
        port: cluster.port,
        database: source,
        user: "postgres",
      });
      expect(manifest).toMatchObject({
        compression: "zstd",
        envelope: "zstd",
        pgDumpVersion: "15.18",
      });
      expect(readFileSync(join(dir, "daily", id, "manifest.json"), "utf8")).not.toContain(
        "password",
      );
      // What a bare server needs: the roles the objects name, the extensions, the globals.
      expect(manifest.formatVersion).toBe(2);
      expect(manifest.roles).toEqual(["pg_database_owner", "postgres"]);
      expect(manifest.extensions).toEqual([
        { name: "plpgsql", version: "1.0", schema: "pg_catalog" },
      ]);
      const globals = readFileSync(join(dir, "daily", id, "globals.sql"));
      expect(manifest.globals).toEqual({
        key: "globals.sql",
        size: globals.length,
        sha256: createHash("sha256").update(globals).digest("hex"),
      });
      expect(globals.toString()).toContain("CREATE ROLE postgres;");
      expect(globals.toString()).not.toMatch(/PASSWORD|SCRAM-SHA-256/);
      // Owner-only: a dump holds every row (issue 14, item 6).
      for (const f of ["dump", "manifest.json", "globals.sql"]) {
        expect((statSync(join(dir, "daily", id, f)).mode & 0o777).toString(8)).toBe("600");
      }
      for (const d of ["daily", `daily/${id}`]) {
        expect((statSync(join(dir, d)).mode & 0o777).toString(8)).toBe("700");
      }
    }
  });

  it("restores table for table, with sequences and large objects", async () => {
    const target = await createDatabase(cluster, "dst");
    const r = await drctl(["restore", id, "--target-url", cluster.url(target), "--jobs", "2"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `ok       "Sales Ünïcode"."Order ""Items"""  expected 3  restored 3`,
    );
    expect(r.stdout).toContain("5 table(s), row counts match the manifest");
    expect(await tableDigests(cluster, target)).toEqual(await tableDigests(cluster, source));
    const seq = "select last_value::int as v, is_called from app.invoice_no";
    expect(await sql(cluster, target, seq)).toEqual([{ v: 4242, is_called: true }]);
    const ids = "select last_value::int as v from app.users_id_seq";
    expect(await sql(cluster, target, ids)).toEqual([{ v: 2000 }]);
    const lo = await sql(cluster, target, LO_DIGEST);
    expect(lo).toEqual(await sql(cluster, source, LO_DIGEST));
    expect(lo[0].n).toBe(3);
    const part = "select count(*)::int as n from app.events where at >= date '2026-01-01'";
    expect(await sql(cluster, target, part)).toEqual([{ n: 645 }]);
  });

  it("verifies the stored checksum and, deep, the whole archive", async () => {
    const r = await drctl(["verify", "--latest", "--deep"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^ok      daily/${id}  \\d+ bytes  sha256 [0-9a-f]{12}  archive readable\\n$`),
    );
  });

  it("refuses a non-empty target without --confirm, and --confirm restores beside what is there", async () => {
    const target = await createDatabase(cluster, "busy");
    await sql(cluster, target, "create table keep_me (x int); insert into keep_me values (1)");
    const r = await drctl(["restore", "latest", "--target-url", cluster.url(target)], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `drctl restore: target 127.0.0.1:${cluster.port}/${target} is not empty (1 table); restore into an empty database, or pass --confirm to replace the backup's objects in one transaction`,
    );
    expect(await tableDigests(cluster, target)).toEqual({
      "public.keep_me": expect.any(String) as string,
    });
    const ok = await drctl(
      [
        "restore",
        "latest",
        "--target-url",
        cluster.url(target),
        "--confirm",
        "--tables",
        "app.users",
      ],
      env,
    );
    expect(plainErrors(ok.stderr)).toEqual([]);
    expect(ok.code).toBe(0);
    expect(Object.keys(await tableDigests(cluster, target))).toEqual([
      "app.users",
      "public.keep_me",
    ]);
  });

  it("--dry-run downloads, verifies and describes, and changes nothing", async () => {
    const target = await createDatabase(cluster, "dry");
    const r = await drctl(
      ["restore", "latest", "--target-url", cluster.url(target), "--dry-run", "--tables", "users"],
      env,
    );
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      "dry run: nothing was changed",
      expect.stringMatching(
        new RegExp(`^backup:   daily/${id} \\(finished .+, sha256 verified\\)$`),
      ),
      `target:   127.0.0.1:${cluster.port}/${target} (empty)`,
      "roles:    none missing",
      "tables:   1: app.users",
      // What --tables takes for app.users: its schema (missing in the target), the table, its
      // primary key, the serial's sequence and default, and the data.
      "contents: 1 CONSTRAINT, 1 DEFAULT, 1 SCHEMA, 1 SEQUENCE, 1 SEQUENCE OWNED BY, 1 SEQUENCE SET, 1 TABLE, 1 TABLE DATA",
      "",
    ]);
    expect(await tableDigests(cluster, target)).toEqual({});
    const schemas = await sql(
      cluster,
      target,
      "select count(*)::int as n from pg_namespace where nspname = 'app'",
    );
    expect(schemas).toEqual([{ n: 0 }]);
  });
});
