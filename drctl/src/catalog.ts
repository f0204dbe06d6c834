import { DrctlError } from "./errors";
import {
  DUMP_FILE,
  MANIFEST_FILE,
  MANIFEST_SIZE_CAP,
  PRE_RESTORE,
  SCHEDULED_TIERS,
  TIERS,
  idTime,
  isBackupId,
  parseManifest,
  type Manifest,
  type Tier,
} from "./manifest";
import { TOC_FILE } from "./parallel/layout";
import { checkStore, readText, type Store, type StoredObject } from "./store";

/**
 * complete: a trusted manifest and its dump. incomplete: no manifest (the run failed or is still
 * going). unreadable: a manifest that is there but cannot be trusted (does not parse, too large,
 * misplaced, impossible times, could not be read): never restored, never pruned, counted by status.
 */
export type BackupStatus = "complete" | "incomplete" | "unreadable";

export interface BackupEntry {
  readonly id: string;
  readonly tier: Tier;
  readonly status: BackupStatus;
  /** Present exactly when status is complete. */
  readonly manifest?: Manifest;
  /** Why the backup is unreadable or incomplete, for people. */
  readonly problem?: string;
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
  /** Only this tier. @default every tier (TIERS) */
  readonly tier?: Tier;
}

/** Reads and checks one manifest; any failure is the reason the backup is unreadable. */
async function readManifest(
  store: Store,
  tier: Tier,
  id: string,
  object: StoredObject,
  now: Date,
): Promise<{ manifest: Manifest } | { problem: string }> {
  const key = `${tier}/${id}/${MANIFEST_FILE}`;
  if (object.size > MANIFEST_SIZE_CAP) {
    return {
      problem: `manifest ${key} is ${object.size} bytes, over the ${MANIFEST_SIZE_CAP}-byte cap; not read`,
    };
  }
  try {
    const text = await readText(store, key, MANIFEST_SIZE_CAP);
    const manifest = await parseManifest(text, key, {
      tier,
      id,
      size: object.size,
      lastModified: object.lastModified,
      now,
    });
    return { manifest };
  } catch (err) {
    return { problem: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Every backup in the store, oldest first. A backup is complete only when its manifest exists,
 * parses and may be trusted where it lies (see parseManifest): the manifest is written last, so a
 * backup without one is an interrupted or failed run. One bad entry never fails the listing; a
 * store whose root does not exist does (StoreMissing, exit 2).
 */
export async function listBackups(store: Store, options: ListOptions = {}): Promise<BackupEntry[]> {
  await checkStore(store);
  return listTiers(store, options.tier ? [options.tier] : TIERS);
}

/** listBackups of some tiers, the store already checked. */
export async function listTiers(store: Store, tiers: readonly Tier[]): Promise<BackupEntry[]> {
  const now = new Date();
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
      const manifestObject = group.find((o) => o.key === `${tier}/${id}/${MANIFEST_FILE}`);
      let manifest: Manifest | undefined;
      let problem: string | undefined;
      if (manifestObject) {
        const read = await readManifest(store, tier, id, manifestObject, now);
        if ("manifest" in read) manifest = read.manifest;
        else problem = read.problem;
        if (manifest && !dumpObject)
          problem = `manifest present but ${tier}/${id}/${DUMP_FILE} is missing`;
      } else {
        problem = "no manifest: the run failed or is still going";
      }
      const complete = manifest !== undefined && dumpObject !== undefined;
      out.push({
        id,
        tier,
        status: complete ? "complete" : manifestObject ? "unreadable" : "incomplete",
        manifest: complete ? manifest : undefined,
        ...(complete ? {} : { problem }),
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

/**
 * `latest` or an exact id. `latest` is the newest complete backup of the scheduled tiers (or of
 * `options.tier`), never a pre-restore one: a second `restore latest` must not bring back the
 * safety copy the first one took, and the drill proves what the CronJobs write. An id is looked
 * for in the scheduled tiers first and in `pre-restore/` only when they do not hold it, so the
 * job identities, which may not list `pre-restore/`, verify and drill as before.
 */
export async function findBackup(
  store: Store,
  ref: string,
  options: ListOptions = {},
): Promise<CompleteBackup> {
  await checkStore(store);
  let all = await listTiers(store, options.tier ? [options.tier] : SCHEDULED_TIERS);
  if (ref !== "latest" && !options.tier && !all.some((e) => e.id === ref)) {
    all = await listTiers(store, [PRE_RESTORE]);
  }
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
      `backup ${ref} is ${hit.status} (${hit.problem ?? "no manifest"}); ` +
        `pick a complete one from drctl list`,
    );
  }
  return hit;
}
