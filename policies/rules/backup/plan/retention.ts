import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { lifecycles, ruleTier } from "../../../lib/backupPlan";
import { daysProperty, thresholds } from "../../../lib/config";

interface Config {
  dailyDays: number;
  weeklyDays: number;
  monthlyDays: number;
}

const configSchema = {
  properties: {
    dailyDays: daysProperty("Fewest days a daily recovery point is kept.", 7),
    weeklyDays: daysProperty("Fewest days a weekly recovery point is kept.", 28),
    monthlyDays: daysProperty("Fewest days a monthly recovery point is kept.", 365),
  },
};

/**
 * Every AWS Backup plan rule, and each of its copy actions, keeps recovery points at least its
 * tier's floor (daily 7 / weekly 28 / monthly 365 days by default, DESIGN §4). The tier is read
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
    const cfg = thresholds<Config>(configSchema, args);
    for (const rule of plan.rules ?? []) {
      const tier = ruleTier(rule) ?? "daily";
      const floor = { daily: cfg.dailyDays, weekly: cfg.weeklyDays, monthly: cfg.monthlyDays }[
        tier
      ];
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
