import { UsageError } from "../errors";
import type { Manifest } from "../manifest";

const GiB = 2 ** 30;

/**
 * WAL the scratch server keeps beside the data while pg_restore loads it: up to max_wal_size
 * between checkpoints, 1 GB by default (https://www.postgresql.org/docs/15/runtime-config-wal.html,
 * max_wal_size; a soft limit, hence the margin below).
 */
const WAL_BYTES = GiB;
/**
 * The database grows between the backup that was checked and the drills to come (the CronJob runs
 * monthly): a quarter on top, so the size set now is not refused again by next month's backup.
 */
const GROWTH = 1.25;

export interface ScratchFit {
  /** The one-line refusal, or undefined when the backup fits. */
  readonly refusal?: string;
  /** Set when the manifest predates `restoreNeeds`: nothing could be checked. */
  readonly warning?: string;
}

/**
 * Whether a backup fits the drill's scratch volumes, each `scratchBytes` (DRCTL_SCRATCH_BYTES, C6):
 * the PGDATA volume must hold the source database (`restoreNeeds.databaseBytes`) and the download
 * volume the archive as pg_restore reads it (`archiveBytes`). Decided from the manifest alone,
 * before a byte is downloaded.
 */
export function scratchFit(m: Manifest, scratchBytes: number): ScratchFit {
  const needs = m.restoreNeeds;
  if (!needs) {
    return {
      warning:
        `backup ${m.id}'s manifest does not record its restore sizes (written by an older drctl); ` +
        `the drill cannot check it against DRCTL_SCRATCH_BYTES=${scratchBytes} before downloading`,
    };
  }
  const archive = needs.archiveBytes ?? 0;
  const largest = Math.max(needs.databaseBytes, archive);
  if (scratchBytes >= needs.databaseBytes && scratchBytes >= archive) {
    // The zstd envelope's archive size comes from zstd's own summary (backup.ts zstdInputBytes);
    // a zstd that printed none leaves only the database size to check.
    if (needs.archiveBytes !== undefined) return {};
    return {
      warning:
        `backup ${m.id}'s manifest does not record its archive's size; only its database ` +
        `(${gib(needs.databaseBytes)}) was checked against DRCTL_SCRATCH_BYTES=${scratchBytes}`,
    };
  }
  const suggest = Math.ceil((largest * GROWTH + WAL_BYTES) / GiB);
  return {
    refusal:
      `backup ${m.id} needs ${gib(needs.databaseBytes)} for its database and ${gib(archive)} for ` +
      `its archive, more than the drill's scratch volumes of ${gib(scratchBytes)} ` +
      `(DRCTL_SCRATCH_BYTES=${scratchBytes}); nothing was downloaded: set ` +
      `dr-stack:jobs.drillScratchStorage to "${suggest}Gi" (the larger size + 25% growth + 1 GiB ` +
      `of WAL) and run pulumi up`,
  };
}

function gib(bytes: number): string {
  return `${(bytes / GiB).toFixed(2)} GiB`;
}

/** DRCTL_SCRATCH_BYTES: a positive integer byte count, or unset. */
export function parseScratchBytes(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^[1-9]\d*$/.test(text.trim())) {
    throw new UsageError(
      `DRCTL_SCRATCH_BYTES must be a positive integer number of bytes (each drill scratch ` +
        `volume's size), got "${text}"`,
    );
  }
  return Number(text.trim());
}
