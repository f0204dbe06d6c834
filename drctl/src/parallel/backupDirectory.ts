import { tmpdir } from "node:os";
import { DrctlError } from "../errors";
import type { Tier } from "../manifest";
import { onTermination } from "../postgres/tools";
import { Meter, type EventSink } from "../progress";
import { FileStore, type Store } from "../store";
import { startDirectoryDump, type DirectoryResult } from "./dirDump";
import { inPlaceSink, uploadSink } from "./sinks";
import type { StreamTableRows } from "./streamCounts";

export interface DirectoryBackupOptions {
  readonly store: Store;
  readonly tier: Tier;
  readonly id: string;
  readonly pgDump: string;
  /** --snapshot, compression and --dbname for pg_dump. */
  readonly args: readonly string[];
  readonly jobs: number;
  /** pg_dump's environment. */
  readonly dumpEnv: NodeJS.ProcessEnv;
  /** For TMPDIR. */
  readonly env: NodeJS.ProcessEnv;
  readonly sink: EventSink;
  /** The manifest's inventory in the dump's snapshot, given the row counts the files will give;
   * runs once pg_dump exited 0, while its last files are stored, before the file store's commit. */
  readonly takeInventory: (rows: Promise<StreamTableRows>) => Promise<void>;
  /** Called on SIGTERM / SIGINT / SIGHUP after pg_dump was stopped (ends the count's connection). */
  readonly onInterrupt: () => void;
}

/**
 * The directory-format half of `drctl backup --jobs N`: pg_dump -Fd into the store (in place for a
 * file store, through TMPDIR and one upload per file otherwise), row counts in the same snapshot,
 * commit. A signal stops pg_dump, aborts the uploads, removes what was stored and rejects; the
 * caller writes no manifest.
 */
export async function backupDirectory(o: DirectoryBackupOptions): Promise<DirectoryResult> {
  const sinkFor =
    o.store instanceof FileStore
      ? inPlaceSink(o.store, o.tier, o.id, o.jobs)
      : uploadSink(o.store, o.tier, o.id, o.jobs, o.env.TMPDIR ?? tmpdir());
  const dirSink = await sinkFor;
  const run = startDirectoryDump({
    pgDump: o.pgDump,
    args: o.args,
    jobs: o.jobs,
    env: o.dumpEnv,
    sink: dirSink,
    meter: new Meter("backup", o.sink),
    beforeCommit: o.takeInventory,
  });
  const dispose = onTermination((signal) => {
    run.abort(
      new DrctlError(
        `interrupted by ${signal}; pg_dump stopped, the partial dump removed and no manifest written`,
      ),
    );
    o.onInterrupt();
  });
  try {
    return await run.done;
  } finally {
    dispose();
  }
}
