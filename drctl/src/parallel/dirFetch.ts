import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DrctlError, VerificationError } from "../errors";
import { DUMP_FILE, backupPrefix, type Manifest } from "../manifest";
import { HashGate } from "../postgres/tools";
import type { Meter } from "../progress";
import { FileStore, type Store } from "../store";
import { hashFileOffThread } from "./hashPool";
import { fileKey, listingDigest, type DumpFileEntry } from "./layout";
import { mapLimit } from "./pool";

export interface CheckOptions {
  /** Write each file into this directory as it is hashed (a download); else only hash. */
  readonly into?: string;
  readonly concurrency: number;
  readonly meter: Meter;
  /** Skip the files not yet started once one failed (a restore gives up at the first). */
  readonly stopAtFirst?: boolean;
}

export interface CheckResult {
  /** One line per file that is missing or differs from the manifest. */
  readonly problems: string[];
  /** The files as found (those that could be read). */
  readonly found: DumpFileEntry[];
  readonly bytes: number;
}

/**
 * Hashes every file the manifest lists, as the store holds it, `concurrency` at a time — parallel
 * GETs from S3, parallel reads in a file store — and compares each size and SHA-256 with the
 * manifest. A file store's files are hashed in place unless `into` asks for a copy.
 */
export async function checkFiles(
  store: Store,
  m: Manifest,
  options: CheckOptions,
): Promise<CheckResult> {
  const files = m.files ?? [];
  const problems: string[] = [];
  const found: DumpFileEntry[] = [];
  let bytes = 0;
  await mapLimit(files, options.concurrency, async (f) => {
    if (options.stopAtFirst && problems.length > 0) return;
    const got = await readOne(store, m, f, options).catch((err: unknown) => {
      if (err instanceof DrctlError && /not found/.test(err.message)) return undefined;
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    });
    if (!got) {
      problems.push(`${f.name} is missing from the store`);
      return;
    }
    bytes += got.size;
    found.push(got);
    if (got.size !== f.size) {
      problems.push(`${f.name} is ${got.size} bytes, the manifest says ${f.size}`);
    } else if (got.sha256 !== f.sha256) {
      problems.push(`${f.name} has sha256 ${got.sha256}, the manifest says ${f.sha256}`);
    }
  });
  return { problems, found, bytes };
}

async function readOne(
  store: Store,
  m: Manifest,
  f: DumpFileEntry,
  options: CheckOptions,
): Promise<DumpFileEntry> {
  const key = fileKey(m.tier, m.id, f.name);
  if (store instanceof FileStore && !options.into) {
    const h = await hashFileOffThread(store.localPath(key), (n) => options.meter.add(n));
    return { name: f.name, size: h.bytes, sha256: h.sha256 };
  }
  const gate = new HashGate(
    () => Promise.resolve(),
    (n) => options.meter.add(n),
  );
  const out = options.into
    ? createWriteStream(join(options.into, f.name), { flags: "wx", highWaterMark: 1 << 20 })
    : new Writable({ write: (_c, _e, cb) => cb() });
  await pipeline(await store.get(key), gate, out);
  return { name: f.name, size: gate.bytes, sha256: gate.sha256() };
}

/**
 * A local directory `pg_restore --jobs N` can read, every file of it checked against the manifest
 * before the caller lets pg_restore near the target: a file store's dump directory as it is, or,
 * from any other store, the files downloaded in parallel into `scratch`. Throws VerificationError
 * naming the first file that is missing or differs.
 *
 * Time of check, time of use: in a file store pg_restore reads the files it was just shown to
 * match, not a private copy, so whoever can write the store's directory between the two could
 * slip other bytes in. Accepted: the files are owner-only (0600, sinks.ts), whoever can rewrite
 * them can rewrite the manifest too, and a copy would cost a full write of the dump before every
 * restore (as long as the dump itself on this disk). A downloaded dump has the same window in a
 * private mkdtemp directory (0700) under TMPDIR.
 */
export async function localDirectory(
  store: Store,
  m: Manifest,
  scratch: string,
  jobs: number,
  meter: Meter,
): Promise<string> {
  const inPlace = store instanceof FileStore;
  const dir = inPlace ? store.localPath(`${backupPrefix(m.tier, m.id)}${DUMP_FILE}`) : scratch;
  if (!inPlace) await mkdir(dir, { recursive: true });
  const r = await checkFiles(store, m, {
    into: inPlace ? undefined : dir,
    // S3 serves each GET at tens of MB/s: more requests in flight than pg_restore has jobs.
    concurrency: inPlace ? jobs : Math.min(8, Math.max(4, jobs * 2)),
    meter,
    stopAtFirst: true,
  });
  if (r.problems.length > 0) {
    throw new VerificationError(
      `backup ${m.id} failed its checksum: ${r.problems[0]}; nothing was restored; ` +
        `run drctl verify --all and restore an older backup`,
    );
  }
  if (listingDigest(r.found) !== m.dump.sha256) {
    throw new VerificationError(
      `backup ${m.id}: its files do not add up to the manifest's dump.sha256; nothing was restored`,
    );
  }
  return dir;
}
