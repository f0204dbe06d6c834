import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { Manifest } from "../../drctl/src/manifestSchema";
import { sha256sumListing } from "../../drctl/src/parallel/layout";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster, tableDigests } from "../support/postgres";
import { S3Server } from "../support/s3server";

/**
 * An application's database with several similar tables (so pg_dump -j 2 and pg_restore -j 2
 * have work to share), keys between them, a partitioned table, a sequence and a large object.
 */
const FIXTURE = `
  create schema shop;
  create table shop.customers (id int primary key, email text not null unique, since date not null);
  insert into shop.customers
    select g, 'c' || g || '@example.com', date '2024-01-01' + g % 700 from generate_series(1, 20000) g;
  create table shop.orders (id bigint primary key, customer int not null references shop.customers,
                            placed timestamptz not null, total numeric(12, 2) not null);
  insert into shop.orders
    select g, 1 + g % 20000, timestamptz '2025-01-01' + g * interval '1 minute', (g % 997) / 7.0
    from generate_series(1, 30000) g;
  create index orders_by_customer on shop.orders (customer);
  create table shop.order_lines (order_id bigint not null references shop.orders, line int not null,
                                 sku text not null, qty int not null check (qty > 0),
                                 primary key (order_id, line));
  insert into shop.order_lines
    select 1 + g % 30000, g / 30000, 'SKU-' || md5(g::text), 1 + g % 5 from generate_series(1, 30000) g;
  create table shop.audit (id bigint generated always as identity, at date not null, what jsonb)
    partition by range (at);
  create table shop.audit_2025 partition of shop.audit for values from ('2025-01-01') to ('2026-01-01');
  create table shop.audit_2026 partition of shop.audit for values from ('2026-01-01') to ('2027-01-01');
  insert into shop.audit (at, what)
    select date '2025-03-01' + g % 500, jsonb_build_object('order', g) from generate_series(1, 5000) g;
  create sequence shop.invoice_no start 5000;
  select setval('shop.invoice_no', 7777, true);
  create table shop.manuals (id int primary key, pdf oid);
  insert into shop.manuals values (1, lo_from_bytea(0, decode(repeat(md5('manual'), 500), 'hex')));
`;

const USER_OBJECTS = `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'`;

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

describe.each([
  { kind: "file", compression: "gzip" },
  { kind: "s3", compression: "none" },
])(
  "backup --jobs 2 of a directory dump through a $kind store ($compression)",
  ({ kind, compression }) => {
    let cluster: LocalCluster;
    let s3: S3Server | undefined;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let source: string;
    let id: string;
    let manifest: Manifest;

    /** The stored bytes of `key` (relative to the backup), e.g. `dump/toc.dat`. */
    const readKey = async (key: string): Promise<Buffer> => {
      if (!s3) return readFileSync(join(dir, "daily", id, ...key.split("/")));
      const client = s3.client();
      const out = await client.send(
        new GetObjectCommand({ Bucket: "dr-backups", Key: `site-a/daily/${id}/${key}` }),
      );
      const bytes = Buffer.from(await out.Body!.transformToByteArray());
      client.destroy();
      return bytes;
    };
    const readStored = (name: string): Promise<Buffer> => readKey(`dump/${name}`);
    /** Replaces (or, without bytes, deletes) one stored file of the dump behind drctl's back. */
    const writeStored = async (name: string, bytes?: Buffer): Promise<void> => {
      const path = join(dir, "daily", id, "dump", name);
      if (!s3) return bytes ? writeFileSync(path, bytes) : rmSync(path);
      const client = s3.client();
      const Key = `site-a/daily/${id}/dump/${name}`;
      await client.send(
        bytes
          ? new PutObjectCommand({ Bucket: "dr-backups", Key, Body: bytes })
          : new DeleteObjectCommand({ Bucket: "dr-backups", Key }),
      );
      client.destroy();
    };

    beforeAll(async () => {
      cluster = await startCluster();
      source = await createDatabase(cluster, "shop");
      await sql(cluster, source, FIXTURE);
      dir = mkdtempSync(join(tmpdir(), "drctl-par-"));
      if (kind === "s3") {
        s3 = await S3Server.start();
        await s3.createBucket("dr-backups");
        // The SDK's credential chain reads the process environment, not drctl's io.env.
        Object.assign(process.env, {
          AWS_ACCESS_KEY_ID: "S3RVER",
          AWS_SECRET_ACCESS_KEY: "S3RVER",
        });
        env = { ...s3.env(), DRCTL_STORE: "s3://dr-backups/site-a" };
      } else {
        env = { DRCTL_STORE: pathToFileURL(dir).href };
      }
      env = { ...env, DATABASE_URL: cluster.url(source), DRCTL_COMPRESS: compression };
      const r = await drctl(
        ["backup", "--tier", "daily", "--jobs", "2", "--format", "directory"],
        env,
      );
      expect(plainErrors(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      id = r.stdout.trim();
      manifest = Manifest.parse(JSON.parse((await readKey("manifest.json")).toString()));
    });

    afterAll(async () => {
      await s3?.stop();
      await cluster?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it("lists every file pg_dump -Fd wrote with its size and SHA-256 as stored", async () => {
      expect(manifest).toMatchObject({
        formatVersion: 2,
        format: "directory",
        compression,
        envelope: "none",
        globals: { key: "globals.sql" },
      });
      const files = manifest.files ?? [];
      const suffix = compression === "gzip" ? ".dat.gz" : ".dat";
      // toc.dat, one data file per table with rows (8: customers, orders, order_lines, the two
      // audit partitions, manuals, and the large object's blob file) and blobs.toc.
      expect(
        files.map((f) => f.name.replace(/^\d+\./, "N.").replace(/^blob_\d+/, "blob_N")).sort(),
      ).toEqual(
        [
          ...Array.from({ length: 6 }, () => `N${suffix.slice(0)}`),
          `blob_N${suffix}`,
          "blobs.toc",
          "toc.dat",
        ].sort(),
      );
      let total = 0;
      for (const f of files) {
        const bytes = await readStored(f.name);
        expect({ name: f.name, size: bytes.length, sha256: sha256(bytes) }).toEqual(f);
        total += bytes.length;
      }
      expect(manifest.dump).toEqual({
        key: "dump",
        size: total,
        sha256: sha256(Buffer.from(sha256sumListing(files))),
      });
      expect(manifest.tables.map((t) => [t.qualified, t.rows])).toEqual([
        ["shop.audit_2025", 3060],
        ["shop.audit_2026", 1940],
        ["shop.customers", 20000],
        ["shop.manuals", 1],
        ["shop.order_lines", 30000],
        ["shop.orders", 30000],
      ]);
      const list = await drctl(["list", "--json"], env);
      const rows = JSON.parse(list.stdout) as { id: string; status: string; size: number }[];
      expect(rows).toMatchObject([{ id, status: "complete", size: total }]);
    });

    it("verify --deep checks every file and reads the whole archive", async () => {
      const r = await drctl(["verify", id, "--deep"], env);
      expect(plainErrors(r.stderr)).toEqual([]);
      expect(r.stdout).toBe(
        `ok      daily/${id}  ${manifest.dump.size} bytes  sha256 ${manifest.dump.sha256.slice(0, 12)}  archive readable\n`,
      );
      expect(r.code).toBe(0);
    });

    it("restore --jobs 2 brings back every table, key, sequence and large object", async () => {
      const target = await createDatabase(cluster, "dst");
      const r = await drctl(
        ["restore", id, "--target-url", cluster.url(target), "--jobs", "2"],
        env,
      );
      expect(plainErrors(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("6 table(s), row counts match the manifest");
      expect(await tableDigests(cluster, target)).toEqual(await tableDigests(cluster, source));
      const seq = "select last_value::int as v from shop.invoice_no";
      expect(await sql(cluster, target, seq)).toEqual([{ v: 7777 }]);
      const fks = `select conname::text as c from pg_constraint where contype = 'f' order by 1`;
      expect(await sql(cluster, target, fks)).toEqual([
        { c: "order_lines_order_id_fkey" },
        { c: "orders_customer_fkey" },
      ]);
      const lo = `select md5(lo_get(pdf)) as m from shop.manuals`;
      expect(await sql(cluster, target, lo)).toEqual(await sql(cluster, source, lo));
    });

    it("a flipped byte in any one file fails verify and restore before the target is touched", async () => {
      const files = manifest.files ?? [];
      // The biggest data file, the table of contents, and the large object's file.
      const victims = [
        [...files].sort((a, b) => b.size - a.size)[0].name,
        "toc.dat",
        files.find((f) => f.name.startsWith("blob_"))!.name,
      ];
      for (const name of victims) {
        const original = await readStored(name);
        const flipped = Buffer.from(original);
        flipped[Math.floor(flipped.length / 2)] ^= 0x01;
        await writeStored(name, flipped);
        try {
          const v = await drctl(["verify", id], env);
          expect(v.code).toBe(2);
          expect(v.stdout).toBe(
            `FAILED  daily/${id}  ${name} has sha256 ${sha256(flipped)}, the manifest says ${sha256(original)}\n`,
          );
          const target = await createDatabase(cluster, "victim");
          const r = await drctl(
            ["restore", id, "--target-url", cluster.url(target), "--jobs", "2"],
            env,
          );
          expect(r.code).toBe(2);
          expect(plainErrors(r.stderr)).toEqual([
            `drctl restore: backup ${id} failed its checksum: ${name} has sha256 ${sha256(flipped)}, ` +
              `the manifest says ${sha256(original)}; nothing was restored; run drctl verify --all ` +
              `and restore an older backup`,
          ]);
          expect(await sql(cluster, target, USER_OBJECTS)).toEqual([{ n: 0 }]);
          const schemas = "select count(*)::int as n from pg_namespace where nspname = 'shop'";
          expect(await sql(cluster, target, schemas)).toEqual([{ n: 0 }]);
        } finally {
          await writeStored(name, original);
        }
      }
      expect((await drctl(["verify", id], env)).code).toBe(0);
    });

    it("a missing file fails verify and restore", async () => {
      const name = [...(manifest.files ?? [])].sort((a, b) => a.size - b.size)[0].name;
      const original = await readStored(name);
      await writeStored(name);
      try {
        const v = await drctl(["verify", id], env);
        expect(v.code).toBe(2);
        expect(v.stdout).toBe(`FAILED  daily/${id}  ${name} is missing from the store\n`);
        const target = await createDatabase(cluster, "gone");
        const r = await drctl(["restore", id, "--target-url", cluster.url(target)], env);
        expect(r.code).toBe(2);
        expect(await sql(cluster, target, USER_OBJECTS)).toEqual([{ n: 0 }]);
      } finally {
        await writeStored(name, original);
      }
    });

    it("leaves one object per file and no scratch behind", async () => {
      const keys = s3
        ? await (async () => {
            const client = s3.client();
            const listed = await client.send(
              new ListObjectsV2Command({ Bucket: "dr-backups", Prefix: `site-a/daily/${id}/` }),
            );
            client.destroy();
            return (listed.Contents ?? []).map((o) => o.Key!.slice(`site-a/daily/${id}/`.length));
          })()
        : readdirSync(join(dir, "daily", id), { recursive: true, withFileTypes: true })
            .filter((e) => e.isFile())
            .map((e) => join(e.parentPath, e.name).slice(join(dir, "daily", id).length + 1));
      expect(keys.sort()).toEqual(
        [
          "globals.sql",
          "manifest.json",
          ...(manifest.files ?? []).map((f) => `dump/${f.name}`),
        ].sort(),
      );
      expect(readdirSync(tmpdir()).filter((n) => n.startsWith("drctl-backup-"))).toEqual([]);
    });
  },
);
