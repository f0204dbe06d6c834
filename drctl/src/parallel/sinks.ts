import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdtemp, open, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { explain } from "../errors";
import { DUMP_FILE, backupPrefix, type Tier } from "../manifest";
import { TEMP_MARK, type FileStore } from "../store/file";
import type { Store } from "../store";
import { dataFileKind, parseArchiveToc } from "./archiveRows";
import type { DirectorySink, StoredFile } from "./dirDump";
import { hashFileOffThread, type FileHash } from "./hashPool";
import { TOC_FILE, fileKey } from "./layout";

/**
 * A file store takes the dump in place: pg_dump writes into a temporary directory beside the
 * backup's final `dump/` directory, on the store's own disk, so no byte is copied. Each file is
 * hashed (from the page cache) and fdatasync'ed as soon as pg_dump has closed it, while the rest
 * is still being dumped; the commit fsyncs the directory, renames it to `dump` and fsyncs the
 * parent, as the file store commits a single dump.
 */
export async function inPlaceSink(
  store: FileStore,
  tier: Tier,
  id: string,
  jobs: number,
): Promise<DirectorySink> {
  const final = store.localPath(`${backupPrefix(tier, id)}${DUMP_FILE}`);
  const dir = `${final}${TEMP_MARK}${randomBytes(4).toString("hex")}`;
  // pg_dump creates `dir` itself (0700) but not its parents: the store makes them, owner-only.
  await store.makeDirectory(dirname(dir));
  return {
    dir,
    concurrency: jobs,
    async store(name, signal) {
      signal.throwIfAborted();
      const path = join(dir, name);
      // pg_dump creates its files under the umask (0644 with 022); a dump holds every row.
      await chmod(path, 0o600);
      const [hashed] = await Promise.all([hashAndCount(path, name, signal), datasync(path)]);
      return stored(name, hashed, await tocOf(path, name));
    },
    async commit() {
      try {
        await syncDirectory(dir);
        await rename(dir, final);
        await syncDirectory(dirname(final));
      } catch (err) {
        throw explain(err, `store ${store.url}`);
      }
    },
    async discard() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Any other store (S3): pg_dump writes into a scratch directory under TMPDIR, and each file, once
 * closed, streams through its own SHA-256 into its own object and is deleted locally, so the
 * scratch disk holds only what the uploads have not caught up with. At most four uploads run at
 * once: each holds up to partSize × (queueSize + 2) = 32 MiB (store/s3.ts), and the agent must stay
 * under 200 MB.
 */
export async function uploadSink(
  store: Store,
  tier: Tier,
  id: string,
  jobs: number,
  tmp: string,
): Promise<DirectorySink> {
  const scratch = await mkdtemp(join(tmp, "drctl-backup-"));
  const dir = join(scratch, DUMP_FILE);
  const uploaded: string[] = [];
  return {
    dir,
    concurrency: Math.min(jobs, 4),
    async store(name, signal): Promise<StoredFile> {
      const path = join(dir, name);
      const { size } = await stat(path);
      const key = fileKey(tier, id, name);
      // The file is final (pg_dump closed it): a worker hashes and counts it while this thread
      // uploads it, both reading it from the page cache.
      const [hashed] = await Promise.all([
        hashAndCount(path, name, signal),
        store.put(key, createReadStream(path, { highWaterMark: 1 << 20, signal }), { size }),
      ]);
      uploaded.push(key);
      const toc = await tocOf(path, name);
      await unlink(path);
      return stored(name, hashed, toc);
    },
    async commit() {
      await rm(scratch, { recursive: true, force: true });
    },
    async discard() {
      await rm(scratch, { recursive: true, force: true });
      // No manifest will name these; delete them so the failed run leaves nothing billable behind
      // (a bucket with Object Lock keeps the versions until their retention ends regardless).
      await Promise.allSettled(uploaded.map((k) => store.delete(k)));
    },
  };
}

/** SHA-256 of a dump file, and its rows if it holds a table's data (archiveRows.ts). */
function hashAndCount(path: string, name: string, signal: AbortSignal): Promise<FileHash> {
  return hashFileOffThread(path, undefined, signal, dataFileKind(name));
}

/** toc.dat's entries, which say whose data each `<dumpId>.dat` holds. */
async function tocOf(path: string, name: string): Promise<StoredFile["toc"]> {
  if (name !== TOC_FILE) return undefined;
  try {
    return parseArchiveToc(await readFile(path))?.entries;
  } catch {
    // An archive version this parser does not know: every table is counted in the snapshot.
    return [];
  }
}

function stored(name: string, h: FileHash, toc: StoredFile["toc"]): StoredFile {
  return { entry: { name, size: h.bytes, sha256: h.sha256 }, rows: h.rows, toc };
}

async function datasync(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory, making the names in it (or a rename into it) durable. */
async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
