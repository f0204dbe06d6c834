import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { daysProperty, thresholds } from "../../../lib/config";

const configSchema = {
  properties: {
    minimumDays: daysProperty("Fewest days of cooling-off before a compliance lock is final.", 3),
  },
};

/**
 * A vault lock in compliance mode gives at least 3 days (`changeableForDays`) to change or remove
 * it before it becomes immutable. A lock without `changeableForDays` is in governance mode, which
 * privileged users can remove at any time, and passes.
 *
 * Severity: high; enforcement: mandatory. After the cooling-off period nobody, not even the
 * root user or AWS, can remove the lock or shorten retention; 3 days is AWS's own minimum and the
 * time a reviewer has to catch a wrong `minRetentionDays`.
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
 */
export const drBackupVaultLockChangeableDays: ResourceValidationPolicy = {
  name: "dr-backup-vaultlock-changeable-days",
  description: "Backup vault compliance locks keep a cooling-off period of at least 3 days.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html",
  configSchema,
  validateResource: validateResourceOfType(
    aws.backup.VaultLockConfiguration,
    (lock, args, reportViolation) => {
      const { minimumDays } = thresholds<{ minimumDays: number }>(configSchema, args);
      const days = lock.changeableForDays;
      if (days !== undefined && days < minimumDays) {
        reportViolation(
          `changeableForDays is ${days}; a compliance lock must stay changeable at least ` +
            `${minimumDays} days before it becomes immutable`,
        );
      }
    },
  ),
};
