import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * EKS clusters envelope-encrypt Kubernetes secrets with a KMS key.
 *
 * Severity: high; enforcement: mandatory. The backup jobs' database credentials live in
 * Kubernetes secrets; without envelope encryption they sit in etcd under AWS's key alone.
 * https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html
 */
export const drEksClusterSecretsEncryption: ResourceValidationPolicy = {
  name: "dr-eks-cluster-secrets-encryption",
  description: "EKS clusters encrypt Kubernetes secrets with a KMS key.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html",
  validateResource: validateResourceOfType(aws.eks.Cluster, (cluster, _args, reportViolation) => {
    const config = cluster.encryptionConfig;
    if (!config?.resources?.includes("secrets") || !config.provider?.keyArn) {
      reportViolation(
        'encryptionConfig does not encrypt "secrets" with a KMS key; set encryptionConfig ' +
          '{ provider: { keyArn: <site key ARN> }, resources: ["secrets"] }',
      );
    }
  }),
};
