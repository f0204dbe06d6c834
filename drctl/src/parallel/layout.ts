import { createHash } from "node:crypto";
import { DUMP_FILE, backupPrefix, type Tier } from "../manifest";

/**
 * How a directory-format dump (`pg_dump -Fd`) is laid out in the store: each file pg_dump wrote
 * is its own object, `<tier>/<id>/dump/<name>`, and the manifest lists every one with its size
 * and SHA-256. pg_dump writes a flat directory: `toc.dat`, one `<dumpId>.dat[.gz|.zst|.lz4]` per
 * table's data, and the large objects' `blobs*.toc` / `blob_<oid>.dat`
 * (https://www.postgresql.org/docs/current/app-pgdump.html, "-F d").
 */
export const TOC_FILE = "toc.dat";

/** One file of a directory-format dump as the manifest records it. */
export interface DumpFileEntry {
  readonly name: string;
  /** Bytes as stored. */
  readonly size: number;
  /** SHA-256 (hex) of the bytes as stored. */
  readonly sha256: string;
}

/**
 * Names pg_dump gives the files of a directory dump. The manifest is read from the store, so a
 * name is checked before it becomes a path: nothing with a slash, no dot files, no `..`.
 */
export const DUMP_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The object key of one file of a directory dump. */
export function fileKey(tier: Tier, id: string, name: string): string {
  return `${backupPrefix(tier, id)}${DUMP_FILE}/${name}`;
}

/**
 * The directory dump's single digest (the manifest's `dump.sha256`): the SHA-256 of its listing
 * in `sha256sum` format, one `<sha256>  <name>` line per file sorted by name. A person can check a
 * downloaded dump with `sha256sum -c` against the same lines.
 */
export function listingDigest(files: readonly DumpFileEntry[]): string {
  return createHash("sha256").update(sha256sumListing(files)).digest("hex");
}

export function sha256sumListing(files: readonly DumpFileEntry[]): string {
  return [...files]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.name}\n`)
    .join("");
}
