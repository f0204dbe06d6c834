import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { daysProperty, thresholds } from "../../../lib/config";
import { ofTypes, propsOf, referencing, TYPES } from "../../../lib/resources";

interface Config {
  minimumRetentionDays: number;
  requireComplianceMode: boolean;
}

const configSchema = {
  properties: {
    minimumRetentionDays: daysProperty(
      "Fewest days the lock keeps every recovery point (the daily tier's floor).",
      7,
    ),
    requireComplianceMode: {
      type: "boolean" as const,
      default: true,
      description: "Require a compliance-mode lock (changeableForDays set), not a governance one.",
    },
  },
};

/**
 * Every AWS Backup vault has a vault lock (`VaultLockConfiguration`) with `minRetentionDays` of
 * at least 7, in compliance mode (`changeableForDays` set). Without `minRetentionDays` a lock
 * enforces no minimum, so recovery points can still be deleted at once; a governance-mode lock can
 * be removed by anyone allowed `backup:DeleteBackupVaultLockConfiguration`, which an intruder with
 * administrator rights is. After its cooling-off period a compliance lock can be removed by
 * nobody, root included (`dr-backup-vaultlock-changeable-days` checks that period).
 *
 * Severity: critical; enforcement: mandatory. A stack policy: the lock is its own resource.
 * A logically air-gapped vault is locked by construction and is another resource type.
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
 */
export const drBackupVaultLocked: StackValidationPolicy = {
  name: "dr-backup-vault-locked",
  description: "AWS Backup vaults have a compliance-mode vault lock with a minimum retention.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const cfg = thresholds<Config>(configSchema, args);
    for (const vault of ofTypes(args.resources, TYPES.vault)) {
      const name = propsOf<aws.backup.VaultArgs>(vault).name ?? vault.name;
      const locks = referencing(args.resources, TYPES.vaultLock, vault, "backupVaultName", [
        name,
        (vault.props as { id?: unknown }).id,
      ]);
      if (locks.length === 0) {
        reportViolation(
          `backup vault ${name} has no VaultLockConfiguration: add one with minRetentionDays at ` +
            `least ${cfg.minimumRetentionDays} and changeableForDays (compliance mode)`,
          vault.urn,
        );
        continue;
      }
      for (const lock of locks) {
        const p = propsOf<aws.backup.VaultLockConfigurationArgs>(lock);
        if (p.minRetentionDays === undefined || p.minRetentionDays < cfg.minimumRetentionDays) {
          reportViolation(
            `backup vault ${name}'s lock has minRetentionDays ${p.minRetentionDays ?? "unset"}; ` +
              `set it to at least ${cfg.minimumRetentionDays} so that no recovery point can be ` +
              `deleted sooner`,
            lock.urn,
          );
        }
        if (cfg.requireComplianceMode && p.changeableForDays === undefined) {
          reportViolation(
            `backup vault ${name}'s lock is in governance mode (no changeableForDays), which ` +
              `anyone allowed backup:DeleteBackupVaultLockConfiguration can remove; set ` +
              `changeableForDays (at least 3) for compliance mode`,
            lock.urn,
          );
        }
      }
    }
  },
};
