import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { lifecycles, ruleTier } from "../../../lib/backupPlan";
import { tierDaysProperties, tierFloors } from "../../../lib/config";

const configSchema = {
  properties: tierDaysProperties((tier) => `Fewest days a ${tier} recovery point is kept.`),
};

/**
 * Every AWS Backup plan rule, and each of its copy actions, keeps recovery points at least its
 * tier's floor (daily 7 / weekly 28 / monthly 365 days by default, docs/architecture.md §4). The tier is read
 * from the rule name; a rule that names no tier is held to the daily floor. No `deleteAfter`
 * means kept until deleted, which passes.
 *
 * Severity: high; enforcement: mandatory. The copy into the peer's vault is what survives a
 * regional loss, so it is held to the same floor as the local recovery point.
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/creating-a-backup-plan.html
 */
export const drBackupPlanRetention: ResourceValidationPolicy = {
  name: "dr-backup-plan-retention",
  description: "AWS Backup rules and their copies keep recovery points at least the tier's floor.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/aws-backup/latest/devguide/creating-a-backup-plan.html",
  configSchema,
  validateResource: validateResourceOfType(aws.backup.Plan, (plan, args, reportViolation) => {
    const floors = tierFloors(configSchema, args);
    for (const rule of plan.rules ?? []) {
      const tier = ruleTier(rule) ?? "daily";
      const floor = floors[tier];
      for (const { where, lifecycle } of lifecycles(rule)) {
        if (lifecycle.deleteAfter !== undefined && lifecycle.deleteAfter < floor) {
          reportViolation(
            `${where} deletes recovery points after ${lifecycle.deleteAfter} days; the ${tier} ` +
              `tier keeps them at least ${floor}`,
          );
        }
      }
    }
  }),
};
