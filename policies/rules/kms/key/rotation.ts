import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * Symmetric encryption KMS keys rotate their key material (`enableKeyRotation`).
 *
 * Severity: medium; enforcement: mandatory. Rotation limits how much data one key version
 * protects, at no cost to decrypting old data. KMS supports automatic rotation only for symmetric
 * ENCRYPT_DECRYPT keys, so asymmetric and HMAC keys are exempt.
 * https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html
 */
export const drKmsKeyRotation: ResourceValidationPolicy = {
  name: "dr-kms-key-rotation",
  description: "Symmetric KMS keys have automatic rotation on.",
  enforcementLevel: "mandatory",
  severity: "medium",
  url: "https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html",
  validateResource: validateResourceOfType(aws.kms.Key, (key, _args, reportViolation) => {
    const symmetric = (key.customerMasterKeySpec ?? "SYMMETRIC_DEFAULT") === "SYMMETRIC_DEFAULT";
    const encrypt = (key.keyUsage ?? "ENCRYPT_DECRYPT") === "ENCRYPT_DECRYPT";
    if (symmetric && encrypt && key.enableKeyRotation !== true) {
      reportViolation("enableKeyRotation is not true; turn on automatic key rotation");
    }
  }),
};
