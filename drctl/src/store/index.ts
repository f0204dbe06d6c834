import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Readable } from "node:stream";
import { UsageError } from "../errors";
import { FileStore } from "./file";
import { S3Store, type S3StoreOptions } from "./s3";
import type { Store } from "./store";

export type { Store, StoredObject, PutOptions } from "./store";
export { readText, StoreAccessDenied, StoreMissing } from "./store";
export { FileStore, isTempKey } from "./file";
export { S3Store } from "./s3";

export type OpenStoreOptions = Omit<S3StoreOptions, "client">;

/** Opens `file:///path` or `s3://bucket/prefix`. */
export function openStore(url: string, options: OpenStoreOptions = {}): Store {
  if (url.startsWith("file://")) {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch {
      throw new UsageError(
        `--store "${url}" is not a valid file URL; expected file:///absolute/path`,
      );
    }
    return new FileStore(url, resolve(path));
  }
  if (url.startsWith("s3://")) {
    const rest = url.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new UsageError(
        `--store "${url}" has an invalid bucket name "${bucket}"; expected s3://bucket/prefix`,
      );
    }
    return new S3Store(url, bucket, prefix, options);
  }
  throw new UsageError(
    `--store "${url}" is not supported; expected s3://bucket/prefix or file:///absolute/path`,
  );
}

/**
 * Whether the store's root exists: throws StoreMissing (exit 2), naming the directory or bucket
 * and what to do, when it does not. Every command that reads backups calls it before listing
 * (catalog.ts), so a typo in DRCTL_STORE is an error, never an empty store.
 */
export async function checkStore(store: Store): Promise<void> {
  await store.check();
}

/** Writes a small object in one go (S3: a single PutObject). */
export async function putBytes(store: Store, key: string, bytes: Buffer): Promise<void> {
  if (store instanceof S3Store) return store.putBytes(key, bytes);
  return store.put(key, Readable.from([bytes]), { size: bytes.length });
}
