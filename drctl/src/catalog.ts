import { DrctlError } from "./errors";
import {
  DUMP_FILE,
  MANIFEST_FILE,
  TIERS,
  idTime,
  isBackupId,
  parseManifest,
  type Manifest,
  type Tier,
} from "./manifest";
import { TOC_FILE } from "./parallel/layout";
import { readText, type Store } from "./store";

export type BackupStatus = "complete" | "incomplete";

export interface BackupEntry {
  readonly id: string;
  readonly tier: Tier;
  readonly status: BackupStatus;
  /** Present exactly when status is complete. */
  readonly manifest?: Manifest;
  /** Every object stored under `<tier>/<id>/`, for prune. */
  readonly keys: string[];
  /** Stored bytes of the dump (or of whatever is there, for an incomplete backup). */
  readonly size: number;
  /** Newest modification time of any of its objects. */
  readonly lastModified: Date;
  /** The backup's time: finishedAt when complete, else the time in its id. */
  readonly time: Date;
}

export interface ListOptions {
  readonly tier?: Tier;
}

/**
 * Every backup in the store, oldest first. A backup is complete only when its manifest exists and
 * parses: the manifest is written last, so anything else is an interrupted or failed run.
 */
export async function listBackups(store: Store, options: ListOptions = {}): Promise<BackupEntry[]> {
  const tiers = options.tier ? [options.tier] : [...TIERS];
  const out: BackupEntry[] = [];
  for (const tier of tiers) {
    const objects = await store.list(`${tier}/`);
    const groups = new Map<string, typeof objects>();
    for (const o of objects) {
      const parts = o.key.split("/");
      if (parts.length < 3 || !isBackupId(parts[1])) continue;
      const group = groups.get(parts[1]) ?? [];
      group.push(o);
      groups.set(parts[1], group);
    }
    for (const [id, group] of groups) {
      const keys = group.map((o) => o.key);
      const lastModified = new Date(Math.max(...group.map((o) => o.lastModified.getTime())));
      // A directory dump (parallel/layout.ts) is there when its toc.dat is; its size is its files'.
      const dumpKey = `${tier}/${id}/${DUMP_FILE}`;
      const dumpObject = group.find((o) => o.key === dumpKey || o.key === `${dumpKey}/${TOC_FILE}`);
      const size = group
        .filter((o) => !dumpObject || o.key === dumpKey || o.key.startsWith(`${dumpKey}/`))
        .reduce((n, o) => n + o.size, 0);
      let manifest: Manifest | undefined;
      if (keys.includes(`${tier}/${id}/${MANIFEST_FILE}`)) {
        try {
          manifest = await parseManifest(
            await readText(store, `${tier}/${id}/${MANIFEST_FILE}`),
            `${tier}/${id}/${MANIFEST_FILE}`,
          );
        } catch (err) {
          if (!(err instanceof DrctlError)) throw err;
          manifest = undefined;
        }
      }
      const complete = manifest !== undefined && dumpObject !== undefined;
      out.push({
        id,
        tier,
        status: complete ? "complete" : "incomplete",
        manifest: complete ? manifest : undefined,
        keys,
        size,
        lastModified,
        time: complete && manifest ? new Date(manifest.finishedAt) : (idTime(id) ?? lastModified),
      });
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export type CompleteBackup = BackupEntry & { readonly manifest: Manifest };

export function isComplete(e: BackupEntry): e is CompleteBackup {
  return e.status === "complete" && e.manifest !== undefined;
}

/** `latest` (newest complete, optionally within a tier) or an exact id. */
export async function findBackup(
  store: Store,
  ref: string,
  options: ListOptions = {},
): Promise<CompleteBackup> {
  const all = await listBackups(store, options);
  if (ref === "latest") {
    const complete = all.filter(isComplete);
    const newest = complete[complete.length - 1];
    if (!newest) {
      throw new DrctlError(
        `no complete backup in ${store.url}${options.tier ? ` for tier ${options.tier}` : ""}; ` +
          `run drctl backup first or check --store`,
      );
    }
    return newest;
  }
  const hit = all.find((e) => e.id === ref);
  if (!hit) {
    throw new DrctlError(`backup ${ref} not found in ${store.url}; run drctl list to see the ids`);
  }
  if (!isComplete(hit)) {
    throw new DrctlError(
      `backup ${ref} is incomplete (no valid manifest: the run failed or is still going); ` +
        `pick a complete one from drctl list`,
    );
  }
  return hit;
}
