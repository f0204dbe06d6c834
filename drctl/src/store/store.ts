import type { Readable } from "node:stream";
import { DrctlError, EXIT } from "../errors";

export interface StoredObject {
  /** Key relative to the store's root, `/`-separated, e.g. `daily/<id>/dump`. */
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

export interface PutOptions {
  /** Length in bytes when known up front; streams of unknown length are fine. */
  readonly size?: number;
}

/**
 * Where backups live. Writes are create-only: `put` of a key that exists fails (existsError) and
 * leaves the original. The contract that makes the manifest a trustworthy commit point:
 * `put` makes the object visible only when `body` ends cleanly; if `body` errors (for example
 * because pg_dump exited non-zero), the partial object is removed (S3: AbortMultipartUpload;
 * file: the temporary file is deleted) and `put` rejects.
 */
export interface Store {
  /** The URL the store was opened with, for messages. */
  readonly url: string;
  put(key: string, body: Readable, options?: PutOptions): Promise<void>;
  get(key: string): Promise<Readable>;
  /** Size and mtime, or undefined when the object does not exist. */
  head(key: string): Promise<StoredObject | undefined>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<StoredObject[]>;
  delete(key: string): Promise<void>;
  /** Rejects with StoreMissing when the store's root (directory, bucket) does not exist. */
  check(): Promise<void>;
}

/**
 * The store's root, a directory or a bucket, does not exist: a typo in --store / DRCTL_STORE,
 * which would otherwise read as an empty store. Exit 2, as a store with no backup is for status.
 */
export class StoreMissing extends DrctlError {
  constructor(message: string) {
    super(message, EXIT.breached);
    this.name = "StoreMissing";
  }
}

/** The store answered that these credentials may not read (or write) there: S3 403, EACCES. */
export class StoreAccessDenied extends DrctlError {
  constructor(message: string) {
    super(message);
    this.name = "StoreAccessDenied";
  }
}

/**
 * Reads a whole (small) object, e.g. a manifest. With `cap`, stops and rejects once more than
 * that many bytes arrived: an object may have grown since it was listed.
 */
export async function readText(store: Store, key: string, cap?: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  const body = await store.get(key);
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (cap !== undefined && total > cap) {
      body.destroy();
      throw new Error(`${key} is over the ${cap}-byte cap; not read`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A create-only write found its key taken: S3 answered 412, or the file exists. */
export function existsError(url: string, key: string): DrctlError {
  return new DrctlError(
    `store ${url}: ${key} already exists, and drctl never replaces an object (it writes with ` +
      `If-None-Match: *); the original is unchanged. Is another job writing the same backup id?`,
  );
}
