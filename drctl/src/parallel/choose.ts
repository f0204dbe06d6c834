import { DrctlError, UsageError } from "../errors";
import type { Compression } from "../manifest";

export const FORMATS = ["auto", "custom", "directory"] as const;
export type FormatChoice = (typeof FORMATS)[number];

/**
 * `--format auto` dumps in parallel only from this database size up (pg_database_size): below it
 * a backup takes seconds either way, and one object beats one per table. On the 2-core benchmark
 * machine parallel starts to pay between 100 MB (1.33 s single, 1.44 s --jobs 2) and 500 MB
 * (8.50 s, 5.96 s) (`npm run bench:parallel -- --sizes 500,2000 --crossover 20,100`, figures in
 * docs/backup-jobs.md); 1 GB stays on the safe side of that, where parallel always wins.
 */
export const DEFAULT_PARALLEL_MIN_BYTES = 1e9;

export interface FormatPlan {
  readonly format: "custom" | "directory";
  /** Why, for the start event and the log. */
  readonly reason: string;
}

export interface FormatInputs {
  readonly requested: FormatChoice;
  readonly jobs: number;
  readonly compression: Compression;
  readonly pgDumpMajor: number;
  /** pg_database_size of the source. */
  readonly databaseBytes: number;
  readonly minBytes: number;
}

/** pg_dump compresses a directory dump's files itself; zstd there needs pg_dump 16. */
function zstdUnsupported(i: FormatInputs): boolean {
  return i.compression === "zstd" && i.pgDumpMajor < 16;
}

/**
 * Custom (`pg_dump -Fc`, one stream) or directory (`pg_dump -Fd --jobs N`). An explicit
 * `--format` wins; `auto` goes parallel when `--jobs` is above 1 and the database is at least
 * `minBytes`.
 */
export function chooseFormat(i: FormatInputs): FormatPlan {
  if (i.requested === "custom") return { format: "custom", reason: "--format custom" };
  if (i.requested === "directory") {
    if (zstdUnsupported(i)) {
      throw new DrctlError(
        `pg_dump ${i.pgDumpMajor} cannot compress a directory-format dump with zstd (pg_dump 16+ ` +
          `can); pass --compress none or gzip, or use a PostgreSQL 16+ client (PG_BIN)`,
      );
    }
    return { format: "directory", reason: "--format directory" };
  }
  if (i.jobs <= 1) return { format: "custom", reason: "--jobs 1" };
  if (i.databaseBytes < i.minBytes) {
    return {
      format: "custom",
      reason: `database ${i.databaseBytes} bytes, below the parallel threshold of ${i.minBytes}`,
    };
  }
  if (zstdUnsupported(i)) {
    return { format: "custom", reason: `pg_dump ${i.pgDumpMajor} has no zstd for -Fd` };
  }
  return { format: "directory", reason: `--jobs ${i.jobs}, database ${i.databaseBytes} bytes` };
}

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Parses `500MB`, `1GB`, `2GiB`, `0`: a byte count for DRCTL_PARALLEL_MIN_SIZE. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(text.trim());
  if (!m) {
    throw new UsageError(`${what} must be a size like 500MB, 1GB or 2GiB, got "${text}"`);
  }
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? "b").toLowerCase()]);
}
