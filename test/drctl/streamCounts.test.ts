import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as zlib from "node:zlib";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import { Manifest } from "../../drctl/src/manifestSchema";
import {
  archiveBlockReader,
  copyRowCounter,
  parseArchiveToc,
  streamRowCounter,
} from "../../drctl/src/parallel/archiveRows";
import { resolveCounts, tableKey } from "../../drctl/src/parallel/streamCounts";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";
import { S3Server } from "../support/s3server";

/**
 * Row counts read from the dump stream against count(*) in the dump's own snapshot, on data made
 * to trip a line counter: COPY text escapes a newline in a value as `\n`, a tab as `\t`, a
 * backslash as `\\`, and NULL is `\N` (https://www.postgresql.org/docs/15/sql-copy.html, "Text
 * Format"); a value that is `\.` is written `\\.`, so only pg_dump's terminator is a bare `\.`
 * line. A table of empty strings, or of no columns, is one empty line per row.
 */
const FIXTURE = `
  create schema app;
  create table app.notes (id int primary key, body text, attachment bytea, meta jsonb);
  insert into app.notes values
    (1, E'first line\\nsecond line', '\\x0a0d5c2e', '{"k": "a\\nb"}'),
    (2, E'\\\\.', null, null),
    (3, E'before\\n\\\\.\\nafter', E'\\\\x5c2e0a', '{}'),
    (4, E'tab\\there\\tand\\\\backslash', '\\x', 'null'),
    (5, '', '\\x00ff', '[1, 2]'),
    (6, null, null, null),
    (7, E'\\r\\ncarriage', decode('5c2e0a5c2e', 'hex'), '"\\\\."');
  insert into app.notes select g, E'row\\n' || g, decode(md5(g::text), 'hex'), null
    from generate_series(100, 2099) g;
  -- Rows of more than 1 MB: a single COPY line, and a single chunk of the custom archive.
  create table app.wide (id int, doc text, raw bytea);
  insert into app.wide select g, repeat(E'x\\ny\\t', 400000), decode(repeat('0a5c', 700000), 'hex')
    from generate_series(1, 3) g;
  create table app.empty (id int);
  create table app.empty_strings (v text);
  insert into app.empty_strings values (''), (''), ('');
  create table app.no_columns ();
  insert into app.no_columns select from generate_series(1, 5);
  create table app.events (id int, region text, payload text) partition by list (region);
  create table app.events_eu partition of app.events for values in ('eu');
  create table app.events_us partition of app.events for values in ('us');
  create table app.events_other partition of app.events default;
  insert into app.events select g, (array['eu', 'us', 'ap'])[1 + g % 3], E'p\\n' || g
    from generate_series(1, 3001) g;
  create unlogged table app.sessions (token text);
  insert into app.sessions select md5(g::text) from generate_series(1, 42) g;
  create schema "Odd Schema";
  create table "Odd Schema"."Table ""quoted"" x" (v text);
  insert into "Odd Schema"."Table ""quoted"" x" values (E'\\\\.'), (E'a\\nb');
  -- A large object: the custom archive's blob block holds newlines that are no table's rows.
  create table app.manuals (id int primary key, pdf oid);
  insert into app.manuals values (1, lo_from_bytea(0, decode(repeat('0a', 5000), 'hex')));
`;

/** What each table holds, counted by hand from FIXTURE. */
const EXPECTED: Record<string, number> = {
  '"Odd Schema"."Table ""quoted"" x"': 2,
  "app.empty": 0,
  "app.empty_strings": 3,
  "app.events_eu": 1000,
  "app.events_other": 1000,
  "app.events_us": 1001,
  "app.manuals": 1,
  "app.no_columns": 5,
  "app.notes": 2007,
  "app.sessions": 42,
  "app.wide": 3,
};

describe("row counts from the dump stream, checked against count(*) in the dump's snapshot", () => {
  let cluster: LocalCluster;
  let db: string;
  let dir: string;
  let s3: S3Server;

  beforeAll(async () => {
    cluster = await startCluster();
    db = await createDatabase(cluster, "counts");
    await sql(cluster, db, FIXTURE);
    dir = mkdtempSync(join(tmpdir(), "drctl-counts-"));
    s3 = await S3Server.start();
    await s3.createBucket("dr-backups");
    // The SDK's credential chain reads the process environment, not drctl's io.env.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });
  }, 180_000);

  afterAll(async () => {
    await s3?.stop();
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const readManifest = async (store: string, format: string, id: string): Promise<Manifest> => {
    let text: string;
    if (store === "s3") {
      const client = s3.client();
      const out = await client.send(
        new GetObjectCommand({ Bucket: "dr-backups", Key: `site-a/daily/${id}/manifest.json` }),
      );
      text = await out.Body!.transformToString();
      client.destroy();
    } else {
      text = readFileSync(join(dir, format, "daily", id, "manifest.json"), "utf8");
    }
    return Manifest.parse(JSON.parse(text));
  };

  const cases = [
    { format: "custom", compress: "none", store: "file", from: "both" },
    { format: "custom", compress: "gzip", store: "file", from: "both" },
    // pg_dump 15 -Z0 | zstd: this process sees only zstd's output, so the snapshot counts.
    { format: "custom", compress: "zstd", store: "file", from: "snapshot" },
    { format: "directory", compress: "none", store: "file", from: "both" },
    { format: "directory", compress: "gzip", store: "file", from: "both" },
    { format: "directory", compress: "none", store: "s3", from: "both" },
  ] as const;

  it.each(cases)(
    "$format $compress to $store: every table's rows equal count(*) (--verify-counts)",
    async ({ format, compress, store, from }) => {
      const env = {
        DATABASE_URL: cluster.url(db),
        DRCTL_STORE:
          store === "s3" ? "s3://dr-backups/site-a" : pathToFileURL(join(dir, format)).href,
        ...(store === "s3" ? s3.env() : {}),
      };
      const r = await drctl(
        [
          "backup",
          "--tier",
          "daily",
          "--format",
          format,
          "--jobs",
          "2",
          "--compress",
          compress,
          "--verify-counts",
        ],
        env,
      );
      expect(plainErrors(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      const tables = (await readManifest(store, format, r.stdout.trim())).tables;
      expect(Object.fromEntries(tables.map((t) => [t.qualified, t.rows]))).toEqual(EXPECTED);
      // "both": counted from the stream and found equal to count(*) in the same snapshot.
      expect(new Set(tables.map((t) => t.rowsFrom))).toEqual(new Set([from]));
    },
    120_000,
  );

  it("without --verify-counts runs no count(*) and records the stream as the source", async () => {
    const env = { DATABASE_URL: cluster.url(db), DRCTL_STORE: pathToFileURL(dir).href };
    const r = await drctl(["backup", "--tier", "weekly", "--compress", "none"], env);
    expect(r.code).toBe(0);
    const m = Manifest.parse(
      JSON.parse(readFileSync(join(dir, "weekly", r.stdout.trim(), "manifest.json"), "utf8")),
    );
    expect(Object.fromEntries(m.tables.map((t) => [t.qualified, t.rows]))).toEqual(EXPECTED);
    expect(new Set(m.tables.map((t) => t.rowsFrom))).toEqual(new Set(["stream"]));
  });

  it("counts the same whatever the pieces the stream arrives in, down to single bytes", async () => {
    const pgDump = findPgBinary("pg_dump").path;
    for (const z of ["-Z0", "-Z6"]) {
      // -b: the large object too, whose block the counter must step over.
      const archive = execFileSync(
        pgDump,
        ["-Fc", z, "-b", "-t", "app.notes", "-t", "app.manuals", `--dbname=${cluster.url(db)}`],
        { maxBuffer: 1 << 30 },
      );
      const counts: string[] = [];
      // Single bytes only uncompressed: each piece of a compressed one is a zlib call.
      for (const piece of [z === "-Z0" ? 1 : 3, 7, 4096, archive.length]) {
        const counter = streamRowCounter("archive", zlib);
        for (let p = 0; p < archive.length; p += piece) {
          await counter.feed(archive, p, Math.min(archive.length, p + piece));
        }
        const { entries } = await counter.finish();
        const rows = entries?.map((e) => [e.namespace, e.tag, e.rows]).sort();
        counts.push(JSON.stringify(rows));
      }
      expect(new Set(counts)).toEqual(
        new Set([
          JSON.stringify([
            ["app", "manuals", 1],
            ["app", "notes", 2007],
          ]),
        ]),
      );
    }
  });
});

describe("copyRowCounter", () => {
  const count = (text: string, piece: number): [number, boolean] => {
    const buf = Buffer.from(text, "latin1");
    const c = copyRowCounter();
    for (let p = 0; p < buf.length; p += piece) c.feed(buf, p, Math.min(buf.length, p + piece));
    return [c.rows(), c.ended()];
  };

  it.each([1, 2, 3, 1000])("counts lines before the \\. line, in pieces of %i", (piece) => {
    expect(count("a\tb\n\\\\.\n\n\\.\n\n\n", piece)).toEqual([3, true]);
    // Lines that start like the terminator but are not it.
    expect(count("\\.x\n\\\\.\n.\\\n\\.\n", piece)).toEqual([3, true]);
    expect(count("\\.\n\n\n", piece)).toEqual([0, true]);
    // No terminator (a custom archive's chunks before the last): every line.
    expect(count("\n\nx\n", piece)).toEqual([3, false]);
  });

  it("ignores what follows the terminator", () => {
    expect(count("x\n\\.\nnot a row\n", 4)).toEqual([1, true]);
  });

  it("agrees with a line-by-line count on random data, any piece size and alignment", () => {
    // A plain reference: lines before the first line that is exactly `\.`.
    const reference = (text: string): [number, boolean] => {
      const lines = text.split("\n");
      const at = lines.findIndex((l, i) => l === "\\." && i < lines.length - 1);
      return at === -1 ? [lines.length - 1, false] : [at, true];
    };
    // Rows made of the bytes that matter: newlines, backslashes, dots, and others.
    let seed = 7;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const alphabet = ["\n", "\\", ".", "a", "\\.", "\n\\.x", "\t"];
    for (let round = 0; round < 300; round++) {
      let text = "";
      const size = random(200);
      for (let i = 0; i < size; i++) text += alphabet[random(alphabet.length)];
      if (random(2) === 0) text += `\n\\.\n${random(2) === 0 ? "after\n" : ""}`;
      // Offsets inside a larger buffer, so that the word-at-a-time count starts unaligned.
      const offset = random(4);
      const buf = Buffer.concat([Buffer.alloc(offset), Buffer.from(text, "latin1")]);
      const piece = 1 + random(40);
      const c = copyRowCounter();
      for (let p = offset; p < buf.length; p += piece) {
        c.feed(buf, p, Math.min(buf.length, p + piece));
      }
      expect([c.rows(), c.ended()], JSON.stringify({ text, piece, offset })).toEqual(
        reference(text),
      );
    }
  });
});

describe("archive structure", () => {
  it("skips large-object blocks and reports each table block's bytes", () => {
    // BLK_BLOBS (3) for dumpId 9 holding OID 16400 with one chunk "\n\n", then BLK_DATA (1) for
    // dumpId 10 with two chunks; integers are a sign byte and 4 little-endian bytes.
    const int = (n: number): number[] => [0, n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24];
    const bytes = Buffer.from([
      3,
      ...int(9),
      ...int(16400),
      ...int(2),
      10,
      10,
      ...int(0),
      ...int(0),
      1,
      ...int(10),
      ...int(2),
      ...Buffer.from("a\n"),
      ...int(5),
      ...Buffer.from("\\.\n\n\n"),
      ...int(0),
    ]);
    // Integers split across pieces, and whole in one (read in place): the same blocks.
    for (const piece of [1, 2, 3, 5, 7, bytes.length]) {
      const seen: string[] = [];
      const reader = archiveBlockReader(4, {
        start: (id) => seen.push(`start ${id}`),
        data: (b, s, e) => seen.push(b.toString("latin1", s, e)),
        end: (id) => seen.push(`end ${id}`),
      });
      for (let p = 0; p < bytes.length; p += piece) {
        reader.feed(bytes, p, Math.min(bytes.length, p + piece));
      }
      expect(reader.finished(), `pieces of ${piece}`).toBe(true);
      expect(seen.join(""), `pieces of ${piece}`).toBe("start 10a\n\\.\n\n\nend 10");
    }
  });

  it("refuses what is not a pg_dump archive", () => {
    expect(() => parseArchiveToc(Buffer.from("PGDMQ and more"))).toThrow(/not a pg_dump archive/);
    expect(parseArchiveToc(Buffer.from("PGDMP"))).toBeUndefined();
  });
});

describe("resolveCounts", () => {
  const tables = [
    { schema: "app", name: "a", qualified: "app.a" },
    { schema: "app", name: "b", qualified: "app.b" },
  ];

  it("counts in the snapshot only what the stream could not give", async () => {
    const asked: string[] = [];
    const out = await resolveCounts(
      tables,
      new Map([
        [tableKey("app", "a"), 4],
        [tableKey("app", "b"), null],
      ]),
      (need) => {
        asked.push(...need.map((t) => t.qualified));
        return Promise.resolve(need.map((t) => ({ ...t, rows: 9 })));
      },
      false,
    );
    expect(asked).toEqual(["app.b"]);
    expect(out).toEqual([
      { ...tables[0], rows: 4, rowsFrom: "stream" },
      { ...tables[1], rows: 9, rowsFrom: "snapshot" },
    ]);
  });

  it("with verify, fails on a difference and names the table and both counts", async () => {
    await expect(
      resolveCounts(
        tables,
        new Map([
          [tableKey("app", "a"), 4],
          [tableKey("app", "b"), 2],
        ]),
        (need) => Promise.resolve(need.map((t) => ({ ...t, rows: t.name === "a" ? 4 : 3 }))),
        true,
      ),
    ).rejects.toThrow(
      /differ from count\(\*\) in its snapshot for 1 table\(s\): app\.b 2 in the dump, 3 by count\(\*\); no manifest was written/,
    );
  });
});
