import { createReadStream, createWriteStream } from "node:fs";
import { constants } from "node:fs";
import {
  access,
  link,
  mkdir,
  open,
  readdir,
  rm,
  stat,
  statfs,
  type FileHandle,
} from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DrctlError, explain } from "../errors";
import {
  existsError,
  StoreAccessDenied,
  StoreMissing,
  type PutOptions,
  type Store,
  type StoredObject,
} from "./store";

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
    // The body may fail before the pipe below is attached (a pg_dump refused at once, while the
    // directory is made): kept here, an error event with no listener would end the process.
    let bodyError: Error | undefined;
    const onBodyError = (err: Error) => (bodyError ??= err);
    body.on("error", onBodyError);
    try {
      await this.makeDirectory(dirname(target));
      const h = await open(temp, "wx", 0o600);
      handle = h;
      if (bodyError !== undefined) throw bodyError;
      const stopWriteBehind = writeBehind(h);
      try {
        // A plain descriptor, not h.createWriteStream(): a FileHandle's close() waits for a stream
        // opened from it to close, and this one must leave the file open for the fsync.
        const out = createWriteStream(temp, { fd: h.fd, autoClose: false, highWaterMark: 4 << 20 });
        await pipeline(body, out).catch(async (err: unknown) => {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
          throw await noSpace(target, out.bytesWritten);
        });
      } finally {
        await stopWriteBehind();
      }
      // fsync before the link: the link is the commit, so the bytes must be durable first;
      // then the directory, so the commit itself survives a crash.
      await h.sync();
      await h.close();
      handle = undefined;
      await commitCreateOnly(temp, target, this.url, key);
      await syncDirectory(dirname(target));
    } catch (err) {
      body.destroy();
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw await this.writeError(err, target);
    } finally {
      body.off("error", onBodyError);
    }
  }

  /**
   * `mkdir -p`, owner-only (a dump holds every row of the database; the umask may be 022), failing
   * with what a person can act on: a read-only file system or a permission, not `ENOENT … mkdir`.
   */
  async makeDirectory(dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw await this.writeError(err, dir);
    }
  }

  /**
   * A write's failure in words. Node's recursive mkdir reports ENOENT for a directory it could not
   * create on a read-only file system (mkdir(2) says EROFS there), so for ENOENT the nearest
   * existing ancestor is asked whether it can be written: access(2) answers EROFS or EACCES.
   */
  private async writeError(err: unknown, path: string): Promise<Error> {
    let code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      for (let dir = dirname(path); ; dir = dirname(dir)) {
        if (await exists(dir)) {
          code = await access(dir, constants.W_OK).then(
            () => code,
            (e: NodeJS.ErrnoException) => e.code,
          );
          break;
        }
        if (dir === dirname(dir)) break;
      }
    }
    if (code === "EROFS") {
      return new DrctlError(
        `store ${this.url}: cannot write ${path}: read-only file system (EROFS); point --store at ` +
          `a writable directory or remount it read-write`,
      );
    }
    if (code === "EACCES" || code === "EPERM") {
      return new StoreAccessDenied(
        `store ${this.url}: cannot write ${path}: permission denied (${code}); run as a user who ` +
          `may write there or point --store at a directory you own`,
      );
    }
    return explain(err, `store ${this.url}`);
  }

  /** The root directory must exist: a typo in the path would otherwise read as an empty store. */
  async check(): Promise<void> {
    let st;
    try {
      st = await stat(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new StoreMissing(
          `store ${this.url}: ${this.root} does not exist; check --store / DRCTL_STORE for a ` +
            `typo, or create the directory (mkdir -p ${this.root}) if this is a new store`,
        );
      }
      throw explain(err, `store ${this.url}`);
    }
    if (!st.isDirectory()) {
      throw new StoreMissing(
        `store ${this.url}: ${this.root} is not a directory; point --store at the directory that ` +
          `holds the tier directories (daily/, weekly/, …)`,
      );
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
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return;
        if (code === "EACCES" || code === "EPERM") {
          throw new StoreAccessDenied(
            `store ${this.url}: permission denied reading ${dir} (${code}); run as a user who ` +
              `may read it`,
          );
        }
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

/**
 * Moves `temp` to `target` only if `target` does not exist, as S3's `If-None-Match: *` does:
 * link(2) fails with EEXIST where rename(2) would silently replace. The temporary name goes after.
 */
async function commitCreateOnly(
  temp: string,
  target: string,
  url: string,
  key: string,
): Promise<void> {
  try {
    await link(temp, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw existsError(url, key);
    throw err;
  }
  await rm(temp, { force: true });
}

/** ENOSPC as a person needs it: where, how much was written, how much is free. */
async function noSpace(path: string, written: number): Promise<DrctlError> {
  const free = await statfs(dirname(path)).then(
    (s) => s.bavail * s.bsize,
    () => undefined,
  );
  return new DrctlError(
    `no space left on device writing ${path}: ${written} bytes written` +
      `${free !== undefined ? `, ${free} bytes free` : ""}; the dump needs more than that: free ` +
      `space or point --store at a larger volume`,
  );
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
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

/** fsyncs a directory, making a link in it durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  await handle.sync().finally(() => handle.close());
}
