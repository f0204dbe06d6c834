import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { lifecycles } from "../../../lib/backupPlan";
import { daysProperty, thresholds } from "../../../lib/config";

interface Config {
  minimumWarmDays: number;
  minimumColdDays: number;
}

const configSchema = {
  properties: {
    minimumWarmDays: daysProperty(
      "Fewest days before a recovery point may move to cold storage.",
      30,
    ),
    minimumColdDays: daysProperty("Fewest days a recovery point stays in cold storage.", 90),
  },
};

/**
 * A plan rule (or copy action) that moves recovery points to cold storage does so after at
 * least 30 days and deletes them at least 90 days after that (`deleteAfter >= coldStorageAfter + 90`).
 *
 * Severity: medium; enforcement: mandatory. These are AWS Backup's own minimums: a plan that
 * breaks them fails at deploy time, or — for copies — fails each night as the copy job runs.
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/plan-options-and-configuration.html
 */
export const drBackupPlanColdStorage: ResourceValidationPolicy = {
  name: "dr-backup-plan-cold-storage",
  description: "AWS Backup cold storage keeps 30 days warm first and 90 days cold.",
  enforcementLevel: "mandatory",
  severity: "medium",
  url: "https://docs.aws.amazon.com/aws-backup/latest/devguide/plan-options-and-configuration.html",
  configSchema,
  validateResource: validateResourceOfType(aws.backup.Plan, (plan, args, reportViolation) => {
    const cfg = thresholds<Config>(configSchema, args);
    for (const rule of plan.rules ?? []) {
      for (const { where, lifecycle } of lifecycles(rule)) {
        const cold = lifecycle.coldStorageAfter;
        if (cold === undefined) continue;
        if (cold < cfg.minimumWarmDays) {
          reportViolation(
            `${where} moves to cold storage after ${cold} days; the minimum is ${cfg.minimumWarmDays}`,
          );
        }
        const expected = cold + cfg.minimumColdDays;
        if (lifecycle.deleteAfter !== undefined && lifecycle.deleteAfter < expected) {
          reportViolation(
            `${where} deletes after ${lifecycle.deleteAfter} days but must keep cold copies ` +
              `${cfg.minimumColdDays} days: expected at least ${expected}`,
          );
        }
      }
    }
  }),
};
