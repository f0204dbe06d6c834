import { readdir, realpath, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DrctlError, explain } from "../errors";
import { runTool, type Tool } from "../postgres/tools";
import type { Meter } from "../progress";
import type { TocEntry } from "./archiveRows";
import type { RowsResult } from "./hashPool";
import { listingDigest, type DumpFileEntry } from "./layout";
import { filesOpenBy } from "./openFiles";
import { limiter } from "./pool";
import { rowsFromDirectory, type StreamTableRows } from "./streamCounts";

/** One stored file: what the manifest records, and what its bytes said on the way. */
export interface StoredFile {
  readonly entry: DumpFileEntry;
  /** A table data file's rows, counted as it was hashed. */
  readonly rows?: RowsResult;
  /** toc.dat's entries. */
  readonly toc?: TocEntry[];
}

/**
 * Where a directory dump goes while pg_dump writes it: a directory pg_dump creates, a way to store
 * each file once pg_dump has closed it, and the final commit or discard.
 */
export interface DirectorySink {
  /** The directory `pg_dump -f` writes. It must not exist yet: pg_dump creates it. */
  readonly dir: string;
  /** How many files may be stored at once. */
  readonly concurrency: number;
  /** Stores one closed file, hashing and counting it; `signal` aborts it. */
  store(name: string, signal: AbortSignal): Promise<StoredFile>;
  /** Called once pg_dump exited 0, every file is stored and the caller's checks passed. */
  commit(): Promise<void>;
  /** Removes what was stored (best effort); called on every failure. */
  discard(): Promise<void>;
}

export interface DirectoryDumpOptions {
  readonly pgDump: string;
  /** pg_dump arguments besides -Fd, --jobs, --no-sync and --file (snapshot, compression, dbname). */
  readonly args: readonly string[];
  readonly jobs: number;
  /** pg_dump's environment (the password travels here). */
  readonly env: NodeJS.ProcessEnv;
  readonly sink: DirectorySink;
  readonly meter: Meter;
  /**
   * Runs once pg_dump exited 0, alongside the last stores, given the row counts the stored files
   * will have given; the sink commits after both.
   */
  readonly beforeCommit: (rows: Promise<StreamTableRows>) => Promise<void>;
  /** @default 100 */
  readonly pollMs?: number;
}

export interface DirectoryResult {
  readonly files: DumpFileEntry[];
  /** Sum of the files' stored bytes. */
  readonly bytes: number;
  /** The SHA-256 of the files' `sha256sum` listing (layout.ts). */
  readonly sha256: string;
}

export interface DirectoryDump {
  readonly done: Promise<DirectoryResult>;
  /** pg_dump's (the leader's) process id. */
  readonly pid: number | undefined;
  /** Stops pg_dump and every store in flight; `done` rejects with `reason`. */
  abort(reason: Error): void;
}

/**
 * Runs `pg_dump -Fd --jobs N` into the sink's directory and stores each file as soon as pg_dump
 * has closed it, while the dump goes on: pg_dump never reopens a file it closed (its directory
 * format writes each table's data in one go, in pg_backup_directory.c), so a closed file is
 * final. "Closed" is read from /proc (openFiles.ts), polled every `pollMs`; whatever is left when
 * pg_dump exits is stored then. `--no-sync`: the sink makes its own copy durable (the file store
 * fdatasyncs each file as it is stored, instead of pg_dump's one fsync pass at the end).
 *
 * Nothing is committed unless pg_dump exited 0, every file was stored and `beforeCommit` passed;
 * any failure stops pg_dump, aborts the stores in flight and discards what was stored.
 */
export function startDirectoryDump(options: DirectoryDumpOptions): DirectoryDump {
  const { sink, meter } = options;
  const pollMs = options.pollMs ?? 100;
  const controller = new AbortController();
  let aborted: Error | undefined;
  const dump: Tool = runTool(
    "pg_dump",
    options.pgDump,
    ["-Fd", `--jobs=${options.jobs}`, "--no-sync", ...options.args, `--file=${sink.dir}`],
    { env: options.env, stdio: ["ignore", "ignore", "pipe"] },
  );
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    dump.child.once("close", () => {
      exited = true;
      resolve();
    });
    dump.child.once("error", () => {
      exited = true;
      resolve();
    });
  });
  const stored = new Map<string, Promise<StoredFile>>();
  const limit = limiter(sink.concurrency);
  let storedBytes = 0;
  let storeFailure: Error | undefined;

  const take = (name: string): void => {
    const p = limit(async () => {
      if (controller.signal.aborted) throw aborted ?? new Error("aborted");
      const file = await sink.store(name, controller.signal);
      storedBytes += file.entry.size;
      return file;
    });
    p.catch((err: unknown) => {
      // A store aborted because the run had already stopped is a consequence, not the cause.
      if (controller.signal.aborted) return;
      storeFailure ??= err instanceof Error ? err : new Error(String(err));
      dump.child.kill("SIGKILL");
    });
    stored.set(name, p);
  };

  const watch = async (): Promise<void> => {
    let realDir: string | undefined;
    while (!exited && storeFailure === undefined && !aborted) {
      await Promise.race([exit, new Promise((r) => setTimeout(r, pollMs))]);
      if (exited) return;
      // List first, then ask which files are open (see filesOpenBy).
      const names = await readdir(sink.dir).catch(() => [] as string[]);
      if (names.length === 0) continue;
      realDir ??= await realpath(sink.dir);
      const open = await filesOpenBy(dump.child.pid ?? -1);
      let writing = 0;
      for (const name of names) {
        const path = join(realDir, name);
        if (open.has(path)) {
          writing += (await stat(path).catch(() => undefined))?.size ?? 0;
        } else if (!stored.has(name)) {
          take(name);
        }
      }
      meter.set(storedBytes + writing);
    }
  };

  // A function, not an inline check: `aborted` changes in callbacks between the awaits.
  const throwIfStopped = (): void => {
    if (aborted) throw aborted;
    if (storeFailure !== undefined) throw storeFailure;
  };

  const run = async (): Promise<DirectoryResult> => {
    await watch();
    await exit;
    throwIfStopped();
    await dump.done;
    for (const name of await readdir(sink.dir)) if (!stored.has(name)) take(name);
    // The inventory needs only pg_dump's exit: it reads the catalog while the last files are
    // hashed, counted and synced here, and takes their counts when they are.
    const all = Promise.all(stored.values());
    const rows = all.then((done) =>
      rowsFromDirectory(
        done.map((f) => ({ name: f.entry.name, rows: f.rows })),
        done.find((f) => f.toc)?.toc ?? [],
      ),
    );
    rows.catch(() => undefined);
    const [stores] = await Promise.all([all, options.beforeCommit(rows)]);
    const files = stores.map((f) => f.entry);
    meter.set(storedBytes);
    throwIfStopped();
    await sink.commit();
    const bytes = files.reduce((n, f) => n + f.size, 0);
    return { files, bytes, sha256: listingDigest(files) };
  };

  const done = run().catch(async (err: unknown) => {
    dump.child.kill("SIGKILL");
    controller.abort();
    await exit;
    await Promise.allSettled(stored.values());
    await sink.discard();
    // pg_dump's own failure says more than the store's follow-on one, unless we killed it.
    const dumpError = await dump.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    const cause = aborted ?? (storeFailure === undefined ? dumpError : storeFailure) ?? err;
    throw noSpace(cause, sink.dir) ?? explain(cause, `backup into ${sink.dir}`);
  });
  done.catch(() => undefined);
  return {
    done,
    pid: dump.child.pid,
    abort: (reason) => {
      aborted ??= reason;
      controller.abort();
      dump.child.kill("SIGKILL");
    },
  };
}

/**
 * pg_dump's "could not write to file …: No space left on device" (or a store's ENOSPC) as one
 * line that says where and what to do; undefined for any other failure.
 */
function noSpace(cause: unknown, dir: string): DrctlError | undefined {
  const message = cause instanceof Error ? cause.message : String(cause);
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (errno !== "ENOSPC" && !/no space left on device/i.test(message)) return undefined;
  return new DrctlError(
    `no space left on device writing the dump under ${dirname(dir)} (${message}); nothing was ` +
      `committed and the partial dump was removed: free space there, or give drctl a larger ` +
      `volume (--store for a file store, TMPDIR for an S3 one)`,
  );
}
