import { runBackup } from "../commands/backup";
import { DrctlError } from "../errors";
import type { DbTarget } from "../postgres/target";
import type { EventSink } from "../progress";
import type { Store } from "../store";

/** The tier a restore's safety backup is stored under. */
export const SAFETY_TIER = "pre-restore" as const;

/**
 * Backs up the whole target database, as `drctl backup` would, into `store` under tier
 * `pre-restore`, before a restore replaces anything in it: a restore of the wrong backup, or of
 * the right one over rows written since, can then be undone with
 * `drctl restore <id> --tier pre-restore --confirm`. The restore does not start when this fails:
 * the error says so and names the cause.
 */
export async function takeSafetyBackup(
  store: Store,
  target: DbTarget,
  env: NodeJS.ProcessEnv,
  sink: EventSink,
): Promise<string> {
  try {
    const m = await runBackup({ store, tier: SAFETY_TIER, source: target, env, sink });
    return m.id;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DrctlError(
      `the safety backup of ${target.label} into ${store.url} (tier ${SAFETY_TIER}) failed, so the ` +
        `restore did not start and the target is unchanged: ${why}; fix that, or pass ` +
        `--no-safety-backup to restore without one`,
    );
  }
}
