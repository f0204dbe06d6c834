import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DrctlError, explain } from "../errors";
import type { PutOptions, Store, StoredObject } from "./store";

/** Temporary names carry this marker so a listing never mistakes them for a finished object. */
export const TEMP_MARK = ".drctl-tmp-";

/** How often put flushes the file it is writing. */
const FLUSH_INTERVAL_MS = 500;

/** A directory on a local or mounted file system: `file:///var/backups/db`. */
export class FileStore implements Store {
  constructor(
    readonly url: string,
    readonly root: string,
  ) {}

  private path(key: string): string {
    if (key.split("/").some((p) => p === ".." || p === "")) {
      throw new DrctlError(`invalid object key "${key}"`);
    }
    return join(this.root, ...key.split("/"));
  }

  /**
   * Streams `body` into a temporary file and commits it by renaming it into place once `body`
   * ended cleanly and the bytes are durable; if `body` errors (pg_dump failed, the hash gate was
   * destroyed), the temporary file is deleted and nothing is committed.
   *
   * The file is written back while it is written: with gigabytes of RAM the kernel would
   * otherwise keep the whole dump dirty until the final fsync, which then costs a full serial
   * write of it. One fdatasync at a time runs on a libuv thread every half second; the stream's
   * writes go on meanwhile, so the final fsync finds little left to do.
   */
  async put(key: string, body: Readable, _options?: PutOptions): Promise<void> {
    const target = this.path(key);
    const temp = `${target}${TEMP_MARK}${randomBytes(4).toString("hex")}`;
    let handle: FileHandle | undefined;
    try {
      // Owner-only: a dump holds every row of the database (the process umask may be 022).
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      const h = await open(temp, "wx", 0o600);
      handle = h;
      const stopWriteBehind = writeBehind(h);
      try {
        // A plain descriptor, not h.createWriteStream(): a FileHandle's close() waits for a stream
        // opened from it to close, and this one must leave the file open for the fsync.
        await pipeline(
          body,
          createWriteStream(temp, { fd: h.fd, autoClose: false, highWaterMark: 4 << 20 }),
        );
      } finally {
        await stopWriteBehind();
      }
      // fsync before the rename: the rename is the commit, so the bytes must be durable first;
      // then the directory, so the commit itself survives a crash.
      await h.sync();
      await h.close();
      handle = undefined;
      await rename(temp, target);
      await syncDirectory(dirname(target));
    } catch (err) {
      body.destroy();
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw explain(err, `store ${this.url}`);
    }
  }

  /** The file holding `key`, for programs that need to seek in it (pg_restore --jobs). */
  localPath(key: string): string {
    return this.path(key);
  }

  async get(key: string): Promise<Readable> {
    const path = this.path(key);
    try {
      await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new DrctlError(`object ${key} not found in store ${this.url}`);
      }
      throw explain(err, `store ${this.url}`);
    }
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const st = await stat(this.path(key));
      return { key, size: st.size, lastModified: st.mtime };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw explain(err, `store ${this.url}`);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw explain(err, `store ${this.url}`);
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) {
          await walk(full);
        } else if (entry.isFile()) {
          const key = relative(this.root, full).split(sep).join("/");
          if (!key.startsWith(prefix)) continue;
          const st = await stat(full).catch(() => undefined);
          if (st) out.push({ key, size: st.size, lastModified: st.mtime });
        }
      }
    };
    // Walk only the directory part of the prefix.
    const dirPart = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    await walk(dirPart ? join(this.root, ...dirPart.split("/")) : this.root);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    await rm(path, { force: true });
    // Remove now-empty parent directories up to the root, so pruned backups leave nothing behind.
    let dir = dirname(path);
    while (dir.startsWith(this.root) && dir !== this.root) {
      const left = await readdir(dir).catch(() => ["?"]);
      if (left.length > 0) break;
      await rm(dir, { recursive: false, force: true }).catch(() => undefined);
      dir = dirname(dir);
    }
  }
}

export function isTempKey(key: string): boolean {
  return key.includes(TEMP_MARK);
}

/**
 * Starts flushing `handle` every FLUSH_INTERVAL_MS, one fdatasync at a time; the returned function
 * stops it and waits for a flush in progress.
 */
function writeBehind(handle: FileHandle): () => Promise<void> {
  let flushing: Promise<void> | undefined;
  const timer = setInterval(() => {
    flushing ??= handle.datasync().then(
      () => void (flushing = undefined),
      () => void (flushing = undefined),
    );
  }, FLUSH_INTERVAL_MS);
  return async () => {
    clearInterval(timer);
    await flushing;
  };
}

/** fsyncs a directory, making a rename in it durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  await handle.sync().finally(() => handle.close());
}
