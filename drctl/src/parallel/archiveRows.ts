/**
 * Row counts read from the dump stream itself, in the same pass as its SHA-256.
 *
 * In COPY text format every row is exactly one line: a newline inside a value is written `\n`, a
 * backslash `\\`, so the only 0x0A bytes are row ends
 * (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"). pg_dump ends each
 * table's data with the line `\.` and blank lines (dumpTableData_copy in src/bin/pg_dump/pg_dump.c);
 * a value that is `\.` is written `\\.`, so that line can only be the terminator. A table's row
 * count is therefore the number of lines before the `\.` line.
 *
 * The functions here run on the hash worker threads (hashPool.ts) as well as in this process:
 * hashPool.ts builds the worker's source from their text, so each is self-contained — no imports,
 * nothing from module scope but the other functions listed in ROW_COUNT_FUNCTIONS.
 */

/** What a row counter exposes; `feed` takes a byte range of a Buffer. */
export interface RowCounter {
  feed(buf: Buffer, start: number, end: number): void;
  /** Lines before the `\.` line (all lines if it has not come). */
  rows(): number;
  /** True once the `\.` line was read. */
  ended(): boolean;
}

/** Counts the rows of one table's COPY text data, fed in pieces of any size. */
export function copyRowCounter(): RowCounter {
  let rows = 0;
  let lineLen = 0;
  let b0 = -1;
  let b1 = -1;
  let ended = false;
  return {
    feed(buf, start, end) {
      let p = start;
      while (p < end && !ended) {
        // Buffer.indexOf is memchr in C++; one call per row. It may look past `end` (the bytes
        // there belong to the next block or are stale): a hit there counts as none.
        const nl = buf.indexOf(10, p);
        const stop = nl === -1 || nl >= end ? end : nl;
        if (lineLen === 0 && stop > p) {
          b0 = buf[p];
          if (stop > p + 1) b1 = buf[p + 1];
        } else if (lineLen === 1 && stop > p) {
          b1 = buf[p];
        }
        lineLen += stop - p;
        if (stop === end) return;
        if (lineLen === 2 && b0 === 92 && b1 === 46) {
          ended = true;
          return;
        }
        rows++;
        lineLen = 0;
        b0 = -1;
        b1 = -1;
        p = stop + 1;
      }
    },
    rows: () => rows,
    ended: () => ended,
  };
}

/** One entry of an archive's table of contents, as far as counting needs it. */
export interface TocEntry {
  readonly dumpId: number;
  readonly desc: string;
  readonly namespace: string | null;
  readonly tag: string | null;
  /** The COPY statement of a TABLE DATA entry dumped with COPY (empty with --inserts). */
  readonly copyStmt: string | null;
  /** Directory format: the data file's name as written in toc.dat. */
  readonly filename?: string | null;
}

/** An archive's header and table of contents. */
export interface ArchiveToc {
  readonly version: number;
  readonly intSize: number;
  /** 0 none, 1 gzip (zlib), 2 lz4, 3 zstd: common/compression.h's pg_compress_algorithm. */
  readonly compression: number;
  readonly entries: TocEntry[];
  /** Bytes the header and TOC took. */
  readonly length: number;
}

/**
 * Parses a custom (`-Fc`) archive's header and table of contents, or a directory dump's toc.dat,
 * from the start of `buf`; returns undefined if `buf` ends before the TOC does. The layout is
 * WriteHead / WriteToc in src/bin/pg_dump/pg_backup_archiver.c: integers are a sign byte and
 * `intSize` little-endian bytes, strings an integer length (-1 for NULL) and the bytes; TOC
 * fields by archive version (1.14 is PostgreSQL 15, 1.15 adds the compression algorithm byte,
 * 1.16 the relkind). After each entry the format's extra data: the custom format's data offset
 * (a flag byte and `offSize` bytes, pg_backup_custom.c _WriteExtraToc), the directory format's
 * file name (pg_backup_directory.c _WriteExtraToc).
 */
export function parseArchiveToc(buf: Buffer): ArchiveToc | undefined {
  const short = new Error("short");
  let p = 0;
  const byte = (): number => {
    if (p >= buf.length) throw short;
    return buf[p++];
  };
  if (buf.length < 5) return undefined;
  if (buf.toString("latin1", 0, 5) !== "PGDMP") throw new Error("not a pg_dump archive");
  p = 5;
  let intSize = 4;
  const int = (): number => {
    if (p + 1 + intSize > buf.length) throw short;
    const negative = buf[p] !== 0;
    let v = 0;
    for (let i = 0; i < intSize; i++) v += buf[p + 1 + i] * 2 ** (8 * i);
    p += 1 + intSize;
    return negative ? -v : v;
  };
  const str = (): string | null => {
    const n = int();
    if (n < 0) return null;
    if (p + n > buf.length) throw short;
    const s = buf.toString("utf8", p, p + n);
    p += n;
    return s;
  };
  try {
    const major = byte();
    const minor = byte();
    const rev = byte();
    const version = (major * 256 + minor) * 256 + rev;
    const v = (a: number, b: number): number => (a * 256 + b) * 256;
    if (version < v(1, 12)) throw new Error(`archive version ${major}.${minor} is too old`);
    if (version > v(1, 16)) throw new Error(`archive version ${major}.${minor} is not known`);
    intSize = byte();
    const offSize = byte();
    const format = byte();
    // 1 is -Fc; pg_dump 15 writes 3 in a -Fd toc.dat (checked in test/drctl/archiveRows.test.ts).
    if (format !== 1 && format !== 3) throw new Error(`archive format ${format} is not -Fc/-Fd`);
    let compression: number;
    if (version >= v(1, 15)) compression = byte();
    else compression = int() !== 0 ? 1 : 0;
    for (let i = 0; i < 7; i++) int(); // creation time: sec, min, hour, mday, mon, year, isdst
    str(); // database name
    str(); // server version
    str(); // pg_dump version
    const count = int();
    const entries: TocEntry[] = [];
    for (let i = 0; i < count; i++) {
      const dumpId = int();
      int(); // hadDumper
      str(); // tableoid
      str(); // oid
      const tag = str();
      const desc = str() ?? "";
      int(); // section
      str(); // defn
      str(); // dropStmt
      const copyStmt = str();
      const namespace = str();
      str(); // tablespace
      str(); // tableam (1.14+; every version accepted here has it)
      if (version >= v(1, 16)) int(); // relkind
      str(); // owner
      str(); // "false": WITH OIDS
      while (str() !== null); // dependencies, a NULL string ends them
      let filename: string | null | undefined;
      if (format === 1) {
        byte(); // offset flag
        if (p + offSize > buf.length) throw short;
        p += offSize;
      } else {
        filename = str();
      }
      entries.push({ dumpId, desc, namespace, tag, copyStmt, filename });
    }
    return { version, intSize, compression, entries, length: p };
  } catch (err) {
    if (err === short) return undefined;
    throw err;
  }
}

/** What a data-block reader reports: each table data block's bytes, as stored in the archive. */
export interface BlockSink {
  start(dumpId: number): void;
  data(buf: Buffer, start: number, end: number): void;
  end(dumpId: number): void;
}

/**
 * Follows a custom archive's data blocks after the TOC (pg_backup_custom.c): a block is a type
 * byte (1 table data, 3 large objects) and the entry's dumpId; table data is a series of
 * length-prefixed chunks ended by a zero length; large objects are, per object, its OID and such
 * a series, ended by OID 0. Fed the bytes in pieces of any size; table data chunks go to `sink`,
 * large objects are skipped.
 */
export function archiveBlockReader(
  intSize: number,
  sink: BlockSink,
): { feed(buf: Buffer, start: number, end: number): void; finished(): boolean } {
  // 0 block type, 1 block id, 2 chunk length, 3 chunk bytes, 4 large object OID
  let state = 0;
  let blobs = false;
  let dumpId = 0;
  let left = 0;
  const small = Buffer.alloc(1 + intSize);
  let have = 0;
  const need = 1 + intSize;
  return {
    feed(buf, start, end) {
      let p = start;
      while (p < end) {
        if (state === 0) {
          const type = buf[p++];
          if (type !== 1 && type !== 3) throw new Error(`unrecognized data block type ${type}`);
          blobs = type === 3;
          state = 1;
          have = 0;
          continue;
        }
        if (state === 3) {
          const n = Math.min(left, end - p);
          if (!blobs) sink.data(buf, p, p + n);
          p += n;
          left -= n;
          if (left === 0) {
            state = 2;
            have = 0;
          }
          continue;
        }
        // An integer: a sign byte and intSize little-endian bytes. Read in place when whole in
        // this piece (pg_dump -Z0 writes a chunk, so an integer, per row); else gathered.
        let value = 0;
        if (have === 0 && p + need <= end) {
          for (let i = intSize, m = 2 ** (8 * (intSize - 1)); i >= 1; i--, m /= 256) {
            value += buf[p + i] * m;
          }
          if (buf[p] !== 0) value = -value;
          p += need;
        } else {
          while (have < need && p < end) small[have++] = buf[p++];
          if (have < need) return;
          have = 0;
          for (let i = intSize, m = 2 ** (8 * (intSize - 1)); i >= 1; i--, m /= 256) {
            value += small[i] * m;
          }
          if (small[0] !== 0) value = -value;
        }
        if (state === 1) {
          dumpId = value;
          if (blobs) state = 4;
          else {
            sink.start(dumpId);
            state = 2;
          }
        } else if (state === 2) {
          if (value < 0) throw new Error(`negative chunk length in block ${dumpId}`);
          if (value > 0) {
            left = value;
            state = 3;
          } else if (blobs) {
            state = 4;
          } else {
            sink.end(dumpId);
            state = 0;
          }
        } else {
          state = value === 0 ? 0 : 2;
        }
      }
    },
    finished: () => state === 0 && have === 0,
  };
}

/** How a stream's rows are laid out: a whole custom archive, or one data file of a directory dump. */
export type CountKind = "archive" | "none" | "gzip" | "zstd";

/** A table data entry of an archive with its row count; null where the stream could not say. */
export interface EntryRows {
  readonly dumpId: number;
  readonly namespace: string | null;
  readonly tag: string | null;
  readonly rows: number | null;
}

export interface StreamRows {
  /** A directory dump's data file: its rows (null: compressed in a way this Node cannot read). */
  readonly rows?: number | null;
  /** A custom archive: every TABLE DATA entry dumped with COPY. */
  readonly entries?: EntryRows[];
}

/** The data-file kind of a directory dump's file name, or undefined for toc.dat and large objects. */
export function dataFileKind(name: string): CountKind | "lz4" | undefined {
  const m = /^\d+\.dat(\.gz|\.zst|\.lz4)?$/.exec(name);
  if (!m) return undefined;
  return m[1] === ".gz" ? "gzip" : m[1] === ".zst" ? "zstd" : m[1] === ".lz4" ? "lz4" : "none";
}

/**
 * Counts the rows of a stream fed in pieces: a custom archive (TOC, then data blocks, each
 * table's chunks raw, zlib- or zstd-compressed as the header says) or one data file of a
 * directory dump. Decompression uses `zlib` (zstd where this Node has it, 22.15+); data this Node
 * cannot decompress (lz4, zstd on older Node) counts as null, and the caller counts that table in
 * the snapshot instead. `feed` returns a promise when the caller should wait before feeding more.
 */
export function streamRowCounter(
  kind: CountKind | "lz4",
  zlib: typeof import("node:zlib"),
): {
  feed(buf: Buffer, start: number, end: number): Promise<void> | undefined;
  finish(): Promise<StreamRows>;
} {
  type Inflater = import("node:stream").Transform;
  const makers = zlib as unknown as Record<string, (() => Inflater) | undefined>;
  const maker = (algorithm: number): (() => Inflater) | undefined =>
    algorithm === 1
      ? kind === "gzip"
        ? makers.createGunzip
        : makers.createInflate
      : algorithm === 3
        ? makers.createZstdDecompress
        : undefined;
  const pending: Promise<void>[] = [];
  let failure: Error | undefined;
  /** A counter for one table's data, compressed with `algorithm`; null if it cannot be read. */
  const open = (
    algorithm: number,
  ): { counter: RowCounter; inflater?: Inflater; done: Promise<void> } | null => {
    const counter = copyRowCounter();
    if (algorithm === 0) return { counter, done: Promise.resolve() };
    const make = maker(algorithm);
    if (!make) return null;
    const inflater = make();
    inflater.on("data", (d: Buffer) => counter.feed(d, 0, d.length));
    const done = new Promise<void>((resolve) => {
      inflater.on("end", resolve);
      inflater.on("error", (err: Error) => {
        failure ??= err;
        resolve();
      });
    });
    pending.push(done);
    return { counter, inflater, done };
  };
  const write = (inflater: Inflater, buf: Buffer, start: number, end: number) =>
    // A copy: the caller reuses its buffer once feed returns.
    inflater.write(Buffer.from(buf.subarray(start, end)))
      ? undefined
      : // "finish" too: a table's last write may be followed by end() in the same feed, and
        // an ended stream emits no "drain".
        new Promise<void>((resolve) => {
          inflater.once("drain", resolve);
          inflater.once("finish", resolve);
          inflater.once("error", () => resolve());
        });

  if (kind !== "archive") {
    const algorithm = { none: 0, gzip: 1, zstd: 3, lz4: 2 }[kind];
    const table = open(algorithm);
    return {
      feed: (buf, start, end) =>
        table?.inflater
          ? write(table.inflater, buf, start, end)
          : (table?.counter.feed(buf, start, end), undefined),
      async finish() {
        if (!table) return { rows: null };
        table.inflater?.end();
        await table.done;
        if (failure) throw failure;
        return { rows: table.counter.rows() };
      },
    };
  }

  let head: Buffer[] = [];
  let headBytes = 0;
  let tried = 0;
  let toc: ArchiveToc | undefined;
  let reader: ReturnType<typeof archiveBlockReader> | undefined;
  const tables = new Map<number, ReturnType<typeof open>>();
  let current: ReturnType<typeof open> | undefined;
  let wait: Promise<void> | undefined;
  const blocks = (t: ArchiveToc) =>
    archiveBlockReader(t.intSize, {
      start(dumpId) {
        current = open(t.compression);
        tables.set(dumpId, current);
      },
      data(buf, start, end) {
        if (!current) return;
        if (current.inflater) wait = write(current.inflater, buf, start, end) ?? wait;
        else current.counter.feed(buf, start, end);
      },
      end() {
        current?.inflater?.end();
        current = undefined;
      },
    });
  return {
    feed(buf, start, end) {
      if (reader) {
        wait = undefined;
        reader.feed(buf, start, end);
        return wait;
      }
      head.push(Buffer.from(buf.subarray(start, end)));
      headBytes += end - start;
      // Parse again only once the bytes doubled: a TOC of many megabytes stays linear.
      if (headBytes < tried * 2) return undefined;
      const all = Buffer.concat(head);
      head = [all];
      tried = headBytes;
      toc = parseArchiveToc(all);
      if (!toc) return undefined;
      reader = blocks(toc);
      head = [];
      wait = undefined;
      reader.feed(all, toc.length, all.length);
      return wait;
    },
    async finish() {
      if (!toc) {
        const all = Buffer.concat(head);
        toc = parseArchiveToc(all);
        if (!toc) throw new Error("the archive ended inside its table of contents");
        reader = blocks(toc);
        reader.feed(all, toc.length, all.length);
      }
      if (!reader?.finished()) throw new Error("the archive ended inside a data block");
      await Promise.all(pending);
      if (failure) throw failure;
      const entries: EntryRows[] = toc.entries
        .filter((e) => e.desc === "TABLE DATA" && e.copyStmt)
        .map((e) => {
          const t = tables.get(e.dumpId);
          // No data block for the entry: nothing to count it from.
          const rows = t ? t.counter.rows() : null;
          return { dumpId: e.dumpId, namespace: e.namespace, tag: e.tag, rows };
        });
      return { entries };
    },
  };
}

/** The text of every function above, for hashPool.ts's worker source. */
export const ROW_COUNT_FUNCTIONS: readonly ((...args: never[]) => unknown)[] = [
  copyRowCounter,
  parseArchiveToc,
  archiveBlockReader,
  dataFileKind,
  streamRowCounter,
];
