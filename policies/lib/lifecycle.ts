import type * as aws from "@pulumi/aws";
import type { PolicyResource } from "@pulumi/policy";
import type * as pulumi from "@pulumi/pulumi";
import { propsOf } from "./resources";

export type LifecycleRule = pulumi.Unwrap<aws.types.input.s3.BucketLifecycleConfigurationRule>;

/** The scheduled backup tiers, each a CronJob's, and the key prefix drctl writes each under (DESIGN §4). */
export const TIER_PREFIXES = { daily: "daily/", weekly: "weekly/", monthly: "monthly/" } as const;
export type Tier = keyof typeof TIER_PREFIXES;

/**
 * Every prefix a backup lies under: the scheduled tiers and `pre-restore/`, the backup a restore
 * takes of what it replaces (written by an operator, not a CronJob).
 */
export const BACKUP_PREFIXES = { ...TIER_PREFIXES, "pre-restore": "pre-restore/" } as const;
export type BackupTier = keyof typeof BACKUP_PREFIXES;

/** The key prefix a rule applies to ("" for the whole bucket), wherever v7 lets it be said. */
export function rulePrefix(rule: LifecycleRule): string {
  return rule.filter?.prefix ?? rule.filter?.and?.prefix ?? rule.prefix ?? "";
}

export function enabledRules(configs: PolicyResource[]): LifecycleRule[] {
  return configs
    .flatMap((c) => propsOf<aws.s3.BucketLifecycleConfigurationArgs>(c).rules ?? [])
    .filter((r) => r.status === "Enabled");
}

/** Whether a rule with prefix `rule` acts on some object under `prefix`. */
export function overlaps(rule: string, prefix: string): boolean {
  return prefix.startsWith(rule) || rule.startsWith(prefix);
}

/** Whether a rule with prefix `rule` acts on every object under `prefix`. */
export function covers(rule: string, prefix: string): boolean {
  return prefix.startsWith(rule);
}
