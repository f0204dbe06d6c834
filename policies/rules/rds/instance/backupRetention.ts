import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { daysProperty, thresholds } from "../../../lib/config";
import { isPromotingReplica } from "../../../lib/role";

const configSchema = {
  properties: {
    minimumDays: daysProperty("Fewest days of automated backups (point-in-time recovery).", 7),
  },
};

/**
 * A source (non-replica) RDS instance keeps automated backups at least 7 days (by default).
 *
 * Severity: high; enforcement: mandatory. Retention is the point-in-time-recovery window: "restore
 * to 12:03 before the bad migration" only works inside it, and 0 turns backups off. Not checked:
 * - a read replica (`replicateSourceDb`), which takes no automated backups of its own;
 * - a replica being promoted (policies/lib/role.ts `isPromotingReplica`): phase 1 of a failover
 *   detaches it with retention 0 because the provider cannot also set retention in that update
 *   (docs/architecture.md §3, terraform-provider-aws #4419); phase 2, the `primary` role, sets it and is
 *   checked. Blocking phase 1 would block the failover itself.
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
    if (db.replicateSourceDb || isPromotingReplica(db)) return;
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
