import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { tierDaysProperties, tierFloors } from "../../../lib/config";
import { containers, envOf, jobName, type CronJobSpec } from "../../../lib/cronJob";
import { enabledRules, rulePrefix, TIER_PREFIXES, type Tier } from "../../../lib/lifecycle";
import { attachedTo, bucketName, ofTypes, propsOf, TYPES } from "../../../lib/resources";
import { LOCK_MODES } from "../../s3/bucket/objectLock";

const configSchema = {
  properties: tierDaysProperties((tier) => `Fewest days a ${tier}/ backup is locked.`),
};

const TIERS = Object.keys(TIER_PREFIXES) as Tier[];

/** The tier a container backs up: `DRCTL_TIER`, else `backup --tier <tier>` in its args. */
function tierOf(
  env: Map<string, string | undefined>,
  args: string[] | undefined,
): Tier | undefined {
  const named = env.get("DRCTL_TIER") ?? args?.[(args?.indexOf("--tier") ?? -2) + 1];
  return TIERS.find((t) => t === named);
}

/** The longest expiration a bucket's lifecycle gives a tier's own prefix, with its rule id. */
function lifecycleDays(
  resources: PolicyResource[],
  store: string | undefined,
  tier: Tier,
): { days: number; where: string } | undefined {
  const name = /^s3:\/\/([^/]+)/.exec(store ?? "")?.[1];
  const bucket = ofTypes(resources, TYPES.buckets).find((b) => bucketName(b) === name);
  if (!bucket) return undefined;
  let best: { days: number; where: string } | undefined;
  for (const r of enabledRules(attachedTo(resources, TYPES.lifecycle, bucket))) {
    const days = r.expiration?.days;
    if (rulePrefix(r) === TIER_PREFIXES[tier] && days !== undefined && days > (best?.days ?? -1))
      best = { days, where: `lifecycle rule "${r.id}" of ${name}` };
  }
  return best;
}

/**
 * Each tier's backup CronJob tells drctl to lock what it writes (create-only backups, docs/architecture.md §4):
 * `DRCTL_OBJECT_LOCK_MODE` GOVERNANCE or COMPLIANCE and `DRCTL_OBJECT_LOCK_DAYS` at least as long
 * as the bucket's lifecycle keeps that tier (and never under the tier's floor, 7 / 28 / 365 days).
 * A backup locked for less than its tier is kept can be deleted — noncurrent-version expiry, or an
 * intruder — while it is still one the runbooks rely on.
 *
 * Severity: critical; enforcement: mandatory. A stack policy: the days come from the lifecycle
 * configuration of the bucket the job writes to (`DRCTL_STORE`).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-retention-periods
 */
export const drKubernetesCronJobObjectLockDays: StackValidationPolicy = {
  name: "dr-kubernetes-cronjob-object-lock-days",
  description: "Backup CronJobs lock each object at least as long as its tier is kept.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const floors = tierFloors(configSchema, args);
    for (const r of ofTypes(args.resources, TYPES.cronJob)) {
      const job = propsOf<CronJobSpec>(r) as CronJobSpec;
      for (const c of containers(job)) {
        const env = envOf(c);
        const tier = tierOf(env, c.args);
        if (!tier) continue;
        const at = `CronJob ${jobName(job)} (${tier} backups, container ${c.name})`;
        const mode = env.get("DRCTL_OBJECT_LOCK_MODE");
        if (!LOCK_MODES.includes(mode as (typeof LOCK_MODES)[number])) {
          reportViolation(
            `${at} sets DRCTL_OBJECT_LOCK_MODE ${mode === undefined ? "to no literal value" : `"${mode}"`}; ` +
              `set it to "GOVERNANCE" or "COMPLIANCE" so that drctl locks every object it writes`,
            r.urn,
          );
        }
        const kept = lifecycleDays(args.resources, env.get("DRCTL_STORE"), tier);
        const needed = Math.max(floors[tier], kept?.days ?? 0);
        const why =
          kept && kept.days >= floors[tier]
            ? `${kept.where} keeps ${tier} backups ${kept.days} days`
            : `the ${tier} tier's floor is ${floors[tier]} days`;
        const raw = env.get("DRCTL_OBJECT_LOCK_DAYS");
        const days = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
        if (days === undefined || days < needed) {
          reportViolation(
            `${at} sets DRCTL_OBJECT_LOCK_DAYS ${raw === undefined ? "to no literal value" : `"${raw}"`}; ` +
              `${why}, so set it to at least ${needed}`,
            r.urn,
          );
        }
      }
    }
  },
};
