import { z } from "zod";
import { COMPRESSIONS, DUMP_FILE, MANIFEST_FORMAT_VERSION, TIERS } from "./manifest";
import { DumpFile, checkDumpFiles } from "./parallel/schema";

/**
 * The manifest's schema, in a module of its own so that only the commands that read manifests
 * load zod (a tenth of a second of start-up that a backup does not need).
 */
export const TableCount = z.object({
  schema: z.string(),
  name: z.string(),
  /** `format('%I.%I', schema, name)` as the server quotes it: the key people type and see. */
  qualified: z.string(),
  rows: z.number().int().nonnegative(),
});
export type TableCount = z.infer<typeof TableCount>;

export const Manifest = z
  .object({
    formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
    id: z.string(),
    tier: z.enum(TIERS),
    startedAt: z.string(),
    finishedAt: z.string(),
    /** Where the dump came from. Never the password. */
    source: z.object({
      host: z.string(),
      port: z.number().int(),
      database: z.string(),
      user: z.string(),
    }),
    serverVersion: z.string(),
    serverVersionNum: z.number().int(),
    pgDumpVersion: z.string(),
    drctlVersion: z.string(),
    /**
     * `custom`: one `pg_dump -Fc` archive, `dump`. `directory`: `pg_dump -Fd --jobs N`, one object
     * per file under `dump/`, each listed in `files` (drctl/src/parallel).
     */
    format: z.enum(["custom", "directory"]),
    /** zstd: `pg_dump -Z0 | zstd`; gzip: pg_dump's own zlib; none: -Z0. */
    compression: z.enum(COMPRESSIONS),
    /**
     * What wraps the stored bytes: `zstd` when they went through the zstd program (pg_dump < 16),
     * `none` when they are a pg_dump archive as is (pg_dump compressed internally, or not at all).
     */
    envelope: z.enum(["none", "zstd"]),
    dump: z.object({
      key: z.literal(DUMP_FILE),
      /** Bytes as stored (after compression). */
      size: z.number().int().nonnegative(),
      /** SHA-256 (hex) of the bytes as stored, computed while they streamed. */
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
    /**
     * Every file of a directory dump with its size and SHA-256 as stored; `dump.size` is their sum
     * and `dump.sha256` the SHA-256 of their `sha256sum` listing. Absent for a custom dump.
     */
    files: z.array(DumpFile).optional(),
    /** Row counts of every ordinary and leaf-partition table, taken in the dump's own snapshot. */
    tables: z.array(TableCount),
    snapshot: z.string(),
  })
  .superRefine(checkDumpFiles);
export type Manifest = z.infer<typeof Manifest>;
