import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DrctlError, explain } from "../errors";
import { hashFile } from "../postgres/tools";
import type { PutOptions, Store, StoredObject } from "./store";

/** Temporary names carry this marker so a listing never mistakes them for a finished object. */
const TEMP_MARK = ".drctl-tmp-";

/** How often putWritten flushes a file that a program is still writing. */
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

  async put(key: string, body: Readable, _options?: PutOptions): Promise<void> {
    const target = this.path(key);
    const temp = `${target}${TEMP_MARK}${randomBytes(4).toString("hex")}`;
    try {
      await mkdir(dirname(target), { recursive: true });
      await pipeline(body, createWriteStream(temp, { flags: "wx" }));
      // fsync before the rename: the rename is the commit, so the bytes must be durable first.
      const handle = await open(temp, "r");
      await handle.sync().finally(() => handle.close());
      await rename(temp, target);
    } catch (err) {
      body.destroy();
      await rm(temp, { force: true });
      throw explain(err, `store ${this.url}`);
    }
  }

  /**
   * Commits an object whose bytes a program writes straight into a temporary file, with no copy
   * through this process: `write` gets the file's descriptor (to hand to the program as its
   * stdout) and must resolve only when every program upstream exited 0. Only then is the file
   * hashed as stored, fsynced and renamed into place; if `write` rejects, the temporary file is
   * deleted and nothing is committed. `alongside` starts once `write` resolved and runs while
   * the file is hashed and fsynced; the object is committed only if it resolves as well.
   * Resolves with the SHA-256 and size of the stored bytes.
   */
  async putWritten(
    key: string,
    write: (fd: number) => Promise<void>,
    alongside: () => Promise<void> = () => Promise.resolve(),
  ): Promise<{ sha256: string; bytes: number }> {
    const target = this.path(key);
    const temp = `${target}${TEMP_MARK}${randomBytes(4).toString("hex")}`;
    let handle: FileHandle | undefined;
    let flusher: ReturnType<typeof setInterval> | undefined;
    let flushing: Promise<void> = Promise.resolve();
    try {
      await mkdir(dirname(target), { recursive: true });
      const h = await open(temp, "wx");
      handle = h;
      // Write back as the program writes: with gigabytes of RAM the kernel would otherwise keep
      // the whole dump dirty until the final fsync, which then costs a full serial write of it.
      // One fdatasync at a time, on a libuv thread; the program's writes go on meanwhile.
      let busy = false;
      flusher = setInterval(() => {
        if (busy) return;
        busy = true;
        flushing = h.datasync().then(
          () => void (busy = false),
          () => void (busy = false),
        );
      }, FLUSH_INTERVAL_MS);
      try {
        await write(h.fd);
      } finally {
        clearInterval(flusher);
        await flushing;
      }
      // Three things now, at once: read the file back from the page cache for the digest (of the
      // bytes on disk, not of a stream a program might have rewritten: pg_dump -Fc seeks back to
      // fill in its table of contents), fsync what is still dirty, and the caller's `alongside`
      // work. The rename, the commit, waits for all three: the bytes must be durable first.
      const [digest] = await Promise.all([hashFile(temp), h.sync(), alongside()]);
      await h.close();
      handle = undefined;
      await rename(temp, target);
      return digest;
    } catch (err) {
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
