import { randomBytes } from "node:crypto";
import { z } from "zod";
import { DrctlError } from "./errors";

export const TIERS = ["daily", "weekly", "monthly"] as const;
export type Tier = (typeof TIERS)[number];

export const COMPRESSIONS = ["zstd", "gzip", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** Bump when a reader could misread an older or newer manifest. */
export const MANIFEST_FORMAT_VERSION = 1;

export const DUMP_FILE = "dump";
export const MANIFEST_FILE = "manifest.json";

const TableCount = z.object({
  schema: z.string(),
  name: z.string(),
  /** `format('%I.%I', schema, name)` as the server quotes it: the key people type and see. */
  qualified: z.string(),
  rows: z.number().int().nonnegative(),
});
export type TableCount = z.infer<typeof TableCount>;

export const Manifest = z.object({
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
  /** pg_dump's custom format (-Fc), always. */
  format: z.literal("custom"),
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
  /** Row counts of every ordinary and leaf-partition table, taken in the dump's own snapshot. */
  tables: z.array(TableCount),
  snapshot: z.string(),
});
export type Manifest = z.infer<typeof Manifest>;

/** Parses a stored manifest; a malformed one is an operation failure that names the key. */
export function parseManifest(text: string, key: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DrctlError(`manifest ${key} is not valid JSON; the backup cannot be trusted`);
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DrctlError(
      `manifest ${key} does not match format ${MANIFEST_FORMAT_VERSION} ` +
        `(${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}); ` +
        `was it written by a newer drctl?`,
    );
  }
  return parsed.data;
}

/** `20261122T021500Z-a1b2c3`: sorts by time as a string, unique enough for concurrent jobs. */
export function newBackupId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

const ID_PATTERN = /^(\d{8}T\d{6}Z)-[0-9a-f]{6}$/;

export function isBackupId(text: string): boolean {
  return ID_PATTERN.test(text);
}

/** The time encoded in a backup id. */
export function idTime(id: string): Date | undefined {
  const m = ID_PATTERN.exec(id);
  if (!m) return undefined;
  const s = m[1];
  return new Date(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`,
  );
}

export function backupPrefix(tier: Tier, id: string): string {
  return `${tier}/${id}/`;
}
