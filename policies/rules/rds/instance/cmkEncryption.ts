import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * RDS storage is encrypted with a customer-managed key: `kmsKeyId` set, and `storageEncrypted`
 * on for a source instance.
 *
 * Severity: high; enforcement: mandatory. Without `kmsKeyId` RDS uses the AWS-managed `aws/rds`
 * key, whose policy cannot be changed and whose snapshots cannot be shared or copied under our
 * control. A cross-region read replica inherits encryption from its source and ignores
 * `storageEncrypted`, but must name a key in its own region (`kmsKeyId`), so only that is required
 * of it.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html
 */
export const drRdsInstanceCmkEncryption: ResourceValidationPolicy = {
  name: "dr-rds-instance-cmk-encryption",
  description: "RDS instances encrypt storage with a customer-managed KMS key.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html",
  validateResource: validateResourceOfType(aws.rds.Instance, (db, _args, reportViolation) => {
    if (!db.replicateSourceDb && db.storageEncrypted !== true) {
      reportViolation(
        `storageEncrypted is ${String(db.storageEncrypted)}; set it to true (RDS cannot encrypt an existing instance in place)`,
      );
    }
    if (!db.kmsKeyId) {
      reportViolation(
        "kmsKeyId is not set, so RDS uses the AWS-managed aws/rds key; set it to the site's customer-managed key",
      );
    }
  }),
};
