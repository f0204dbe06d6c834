import { randomBytes } from "node:crypto";
import { DrctlError } from "./errors";
import type { Manifest } from "./manifestSchema";

/** The tiers the backup CronJobs write on a schedule (docs/architecture.md §4). */
export const SCHEDULED_TIERS = ["daily", "weekly", "monthly"] as const;
/**
 * What a restore that replaces data backs up first, so that even a successful restore of the
 * wrong backup can be undone (docs/architecture.md §5). Written by the operator running the
 * restore, never by a job; kept 7 days by default (docs/backup-storage.md).
 */
export const PRE_RESTORE = "pre-restore";
/** Every tier a backup may lie under, each its own `<tier>/` prefix of the store. */
export const TIERS = [...SCHEDULED_TIERS, PRE_RESTORE] as const;
export type Tier = (typeof TIERS)[number];
export type ScheduledTier = (typeof SCHEDULED_TIERS)[number];

export function isScheduledTier(tier: Tier): tier is ScheduledTier {
  return tier !== PRE_RESTORE;
}

export const COMPRESSIONS = ["zstd", "gzip", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/**
 * Bump when a reader could misread an older or newer manifest. 2 added `globals`, `roles`,
 * `extensions` and the per-table `indexes`, `sequences` and foreign keys; 1 is still read.
 */
export const MANIFEST_FORMAT_VERSION = 2;

export const DUMP_FILE = "dump";
export const GLOBALS_FILE = "globals.sql";
export const MANIFEST_FILE = "manifest.json";

/**
 * A manifest larger than this is not read at all. A real one is about 200 bytes per table plus its
 * indexes and keys: 16 MiB is some 50,000 tables. Reading a 600 MB one made every command of the
 * store fail with 1.3 GB of RSS.
 */
export const MANIFEST_SIZE_CAP = 16 * 1024 * 1024;

/**
 * How far in the future a manifest's times may be: clocks of the backup pod and of this machine
 * (and of S3, whose LastModified is the other witness) differ by seconds, not by this much.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

export type { Manifest, TableCount, Extension } from "./manifestSchema";

/** A manifest that cannot be trusted: why, in words that say what to do. */
export class UnreadableManifest extends DrctlError {}

/** Where a manifest was found and what its store knows about the object. */
export interface ManifestPlace {
  readonly tier: Tier;
  readonly id: string;
  /** The manifest object's size and modification time, from the store's listing. */
  readonly size: number;
  readonly lastModified: Date;
  /** @default new Date() */
  readonly now?: Date;
}

/**
 * Parses a stored manifest and checks that it may be trusted where it lies: it parses as a format
 * this drctl knows, its id and tier are those of its key, and its times are real, ordered, not in
 * the future and not after the manifest object itself was written. Throws UnreadableManifest.
 */
export async function parseManifest(
  text: string,
  key: string,
  place?: ManifestPlace,
): Promise<Manifest> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UnreadableManifest(`manifest ${key} is not valid JSON`);
  }
  const { Manifest } = await import("./manifestSchema");
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
    throw new UnreadableManifest(
      typeof version === "number" && version > MANIFEST_FORMAT_VERSION
        ? `manifest ${key} is format ${version}, newer than this drctl reads (${MANIFEST_FORMAT_VERSION}); use a newer drctl`
        : `manifest ${key} does not match format ${MANIFEST_FORMAT_VERSION} ` +
            `(${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"})`,
    );
  }
  const m = parsed.data;
  if (place) {
    if (m.tier !== place.tier || m.id !== place.id) {
      throw new UnreadableManifest(
        `manifest ${key} describes ${m.tier}/${m.id}, not the backup whose key it lies under`,
      );
    }
    const now = (place.now ?? new Date()).getTime();
    const started = Date.parse(m.startedAt);
    const finished = Date.parse(m.finishedAt);
    if (finished < started) {
      throw new UnreadableManifest(
        `manifest ${key} finished (${m.finishedAt}) before it started (${m.startedAt})`,
      );
    }
    if (finished > now + CLOCK_SKEW_MS) {
      throw new UnreadableManifest(
        `manifest ${key} says it finished in the future (${m.finishedAt})`,
      );
    }
    // The manifest is written after finishedAt is taken: a later finishedAt than the object's own
    // timestamp is a manifest that lies about its age.
    if (finished > place.lastModified.getTime() + CLOCK_SKEW_MS) {
      throw new UnreadableManifest(
        `manifest ${key} says it finished at ${m.finishedAt}, after the store wrote it ` +
          `(${place.lastModified.toISOString()})`,
      );
    }
  }
  return m;
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
