import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompleteBackup } from "../catalog";
import { DUMP_FILE, backupPrefix } from "../manifest";
import { capture } from "../postgres/tools";
import { Meter, type EventSink } from "../progress";
import { FileStore, type Store } from "../store";
import { checkFiles } from "./dirFetch";
import { listingDigest } from "./layout";

export interface DirectoryVerifyOptions {
  readonly store: Store;
  readonly backup: CompleteBackup;
  readonly deep: boolean;
  /** The pg_restore program, for deep. */
  readonly pgRestore: string;
  readonly env: NodeJS.ProcessEnv;
  readonly sink: EventSink;
  /** Files read at once. @default 4 */
  readonly concurrency?: number;
}

export interface DirectoryVerifyResult {
  readonly ok: boolean;
  readonly problem?: string;
  readonly size: number;
  readonly sha256?: string;
}

/**
 * `verify` of a directory dump: every file's size and SHA-256 against the manifest, several at a
 * time; with `deep`, `pg_restore -f /dev/null` then reads the whole archive (every data file) —
 * from the file store's directory in place, or from a scratch copy under TMPDIR of an S3 dump
 * (pg_restore reads a directory archive only from a directory).
 */
export async function verifyDirectory(o: DirectoryVerifyOptions): Promise<DirectoryVerifyResult> {
  const m = o.backup.manifest;
  const meter = new Meter("verify", o.sink, m.dump.size);
  const inPlace = o.store instanceof FileStore;
  const scratch =
    o.deep && !inPlace ? await mkdtemp(join(o.env.TMPDIR ?? tmpdir(), "drctl-verify-")) : undefined;
  try {
    const into = scratch ? join(scratch, DUMP_FILE) : undefined;
    if (into) await mkdir(into);
    const r = await checkFiles(o.store, m, { into, concurrency: o.concurrency ?? 4, meter });
    if (r.problems.length > 0) {
      const more = r.problems.length > 1 ? ` (and ${r.problems.length - 1} more)` : "";
      return { ok: false, problem: `${r.problems[0]}${more}`, size: r.bytes };
    }
    if (o.deep) {
      const dir =
        into ?? (o.store as FileStore).localPath(`${backupPrefix(m.tier, m.id)}${DUMP_FILE}`);
      try {
        await capture("pg_restore", o.pgRestore, ["-f", "/dev/null", dir], { env: o.env });
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        return { ok: false, problem: `archive is unreadable: ${why}`, size: r.bytes };
      }
    }
    return { ok: true, size: r.bytes, sha256: listingDigest(r.found) };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
