import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdtemp, open, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { explain } from "../errors";
import { DUMP_FILE, backupPrefix, type Tier } from "../manifest";
import { HashGate } from "../postgres/tools";
import { TEMP_MARK, type FileStore } from "../store/file";
import type { Store } from "../store";
import type { DirectorySink } from "./dirDump";
import { hashFileOffThread } from "./hashPool";
import { fileKey, type DumpFileEntry } from "./layout";

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
      const [hashed] = await Promise.all([
        hashFileOffThread(path, undefined, signal),
        datasync(path),
      ]);
      return { name, size: hashed.bytes, sha256: hashed.sha256 };
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
    async store(name, signal): Promise<DumpFileEntry> {
      const path = join(dir, name);
      const { size } = await stat(path);
      const gate = new HashGate(() => Promise.resolve());
      const input = createReadStream(path, { highWaterMark: 1 << 20, signal });
      input.on("error", (err) => gate.destroy(err));
      input.pipe(gate);
      const key = fileKey(tier, id, name);
      await store.put(key, gate, { size });
      uploaded.push(key);
      await unlink(path);
      return { name, size: gate.bytes, sha256: gate.sha256() };
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
