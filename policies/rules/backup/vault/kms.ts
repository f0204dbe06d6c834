import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * AWS Backup vaults encrypt recovery points with a customer-managed key (`kmsKeyArn`).
 *
 * Severity: high; enforcement: mandatory. Left unset, the vault uses the AWS-managed
 * `aws/backup` key, whose policy cannot restrict who restores; copies into the peer's vault are
 * re-encrypted with the peer's key.
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html
 */
export const drBackupVaultKms: ResourceValidationPolicy = {
  name: "dr-backup-vault-kms",
  description: "AWS Backup vaults encrypt with a customer-managed KMS key.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html",
  validateResource: validateResourceOfType(aws.backup.Vault, (vault, _args, reportViolation) => {
    if (!vault.kmsKeyArn) {
      reportViolation(
        "kmsKeyArn is not set, so the vault uses the AWS-managed aws/backup key; set it to the site key ARN",
      );
    }
  }),
};
