import { z } from "zod";
import { COMPRESSIONS, DUMP_FILE, GLOBALS_FILE, MANIFEST_FORMAT_VERSION, TIERS } from "./manifest";
import { DumpFile, checkDumpFiles } from "./parallel/schema";

/**
 * The manifest's schema, in a module of its own so that only the commands that read manifests
 * load zod (a tenth of a second of start-up that a backup does not need).
 */

/** An ISO 8601 UTC instant as `Date.prototype.toISOString()` writes it. */
const IsoTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/, "expected an ISO 8601 UTC time")
  .refine((s) => !Number.isNaN(Date.parse(s)), "not a real date");

export const ForeignKey = z.object({
  /** The constraint's name, as `pg_restore -l` shows it in its tag. */
  name: z.string(),
  /** The table it references, `format('%I.%I')`. */
  references: z.string(),
});

export const TableCount = z.object({
  schema: z.string(),
  name: z.string(),
  /** `format('%I.%I', schema, name)` as the server quotes it: the key people type and see. */
  qualified: z.string(),
  rows: z.number().int().nonnegative(),
  /**
   * Where `rows` came from: `stream`, the lines of the table's COPY data in the dump itself;
   * `snapshot`, `count(*)` in the dump's snapshot (a table whose data the stream could not be
   * read for, or manifests before drctl counted from the stream, which lack the field); `both`,
   * counted from the stream and checked equal to `count(*)` (`backup --verify-counts`).
   */
  rowsFrom: z.enum(["stream", "snapshot", "both"]).optional(),
  /**
   * What `restore --tables` must bring back with the table that the archive's table of contents
   * does not tie to it by name (format 2): its indexes that back no constraint, the sequences
   * owned by its columns, and the foreign keys it holds and that point at it.
   */
  indexes: z.array(z.string()).optional(),
  sequences: z.array(z.string()).optional(),
  foreignKeys: z.array(ForeignKey).optional(),
  referencedBy: z.array(z.object({ table: z.string(), name: z.string() })).optional(),
});
export type TableCount = z.infer<typeof TableCount>;

export const Extension = z.object({
  name: z.string(),
  version: z.string(),
  schema: z.string(),
});
export type Extension = z.infer<typeof Extension>;

export const Manifest = z
  .object({
    /** 1: drctl before roles and extensions were recorded; 2: with them. Both are read. */
    formatVersion: z.union([z.literal(1), z.literal(MANIFEST_FORMAT_VERSION)]),
    id: z.string(),
    tier: z.enum(TIERS),
    startedAt: IsoTime,
    finishedAt: IsoTime,
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
     * `pg_dumpall --globals-only --no-role-passwords` of the source cluster (format 2): the roles,
     * their memberships and settings, and tablespaces, for an operator rebuilding a whole server.
     */
    globals: z
      .object({
        key: z.literal(GLOBALS_FILE),
        size: z.number().int().nonnegative(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
      })
      .optional(),
    /**
     * Every role the dumped database's objects name (owners, grantees, default privileges, policy
     * roles), which restore creates NOLOGIN on a target that lacks them (format 2).
     */
    roles: z.array(z.string()).optional(),
    /** The extensions the database uses (format 2): the target must be able to provide them. */
    extensions: z.array(Extension).optional(),
    /**
     * Every file of a directory dump with its size and SHA-256 as stored; `dump.size` is their sum
     * and `dump.sha256` the SHA-256 of their `sha256sum` listing. Absent for a custom dump.
     */
    files: z.array(DumpFile).optional(),
    /**
     * What a restore of this backup needs on disk, which `drctl drill` checks against
     * DRCTL_SCRATCH_BYTES before downloading anything. `databaseBytes`: `pg_database_size` of the
     * source in the dump's transaction (the restored PGDATA, before WAL). `archiveBytes`: the
     * archive as pg_restore reads it from the download volume — the stored bytes, or for the zstd
     * envelope the unwrapped archive that zstd counted. Absent from manifests older than drctl 0.9.
     */
    restoreNeeds: z
      .object({
        databaseBytes: z.number().int().nonnegative(),
        archiveBytes: z.number().int().nonnegative().optional(),
      })
      .optional(),
    /** Row counts of every ordinary and leaf-partition table, taken in the dump's own snapshot. */
    tables: z.array(TableCount),
    snapshot: z.string(),
  })
  .superRefine(checkDumpFiles);
export type Manifest = z.infer<typeof Manifest>;
