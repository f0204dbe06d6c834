import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { daysProperty, thresholds } from "../../../lib/config";

const configSchema = {
  properties: {
    minimumDays: daysProperty("Fewest days of automated backups (point-in-time recovery).", 7),
  },
};

/**
 * A source (non-replica) RDS instance keeps automated backups at least 7 days (by default).
 *
 * Severity: high; enforcement: mandatory. Retention is the point-in-time-recovery window: "restore
 * to 12:03 before the bad migration" only works inside it, and 0 turns backups off. A read
 * replica takes no automated backups of its own, so it is not checked.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html#USER_WorkingWithAutomatedBackups.BackupRetention
 */
export const drRdsInstanceBackupRetention: ResourceValidationPolicy = {
  name: "dr-rds-instance-backup-retention",
  description: "Source RDS instances keep automated backups for at least the minimum days.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html",
  configSchema,
  validateResource: validateResourceOfType(aws.rds.Instance, (db, args, reportViolation) => {
    if (db.replicateSourceDb) return;
    const { minimumDays } = thresholds<{ minimumDays: number }>(configSchema, args);
    const days = db.backupRetentionPeriod;
    if (days === undefined || days < minimumDays) {
      reportViolation(
        `backupRetentionPeriod is ${days ?? "unset"}; a source instance must keep automated ` +
          `backups at least ${minimumDays} days`,
      );
    }
  }),
};
