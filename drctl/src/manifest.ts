import { randomBytes } from "node:crypto";
import { DrctlError } from "./errors";
import type { Manifest } from "./manifestSchema";

export const TIERS = ["daily", "weekly", "monthly"] as const;
export type Tier = (typeof TIERS)[number];

export const COMPRESSIONS = ["zstd", "gzip", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** Bump when a reader could misread an older or newer manifest. */
export const MANIFEST_FORMAT_VERSION = 1;

export const DUMP_FILE = "dump";
export const MANIFEST_FILE = "manifest.json";

export type { Manifest, TableCount } from "./manifestSchema";

/** Parses a stored manifest; a malformed one is an operation failure that names the key. */
export async function parseManifest(text: string, key: string): Promise<Manifest> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DrctlError(`manifest ${key} is not valid JSON; the backup cannot be trusted`);
  }
  const { Manifest } = await import("./manifestSchema");
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
