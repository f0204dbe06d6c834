import * as pulumi from "@pulumi/pulumi";

/**
 * IAM roles for service accounts (IRSA): the trust that lets exactly one Kubernetes
 * ServiceAccount of a cluster assume an IAM role through the cluster's OIDC provider.
 */

/** The `sub` claim a pod's projected token carries for `namespace/serviceAccount`. */
export function serviceAccountSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/**
 * IRSA trust: only pods running as exactly this ServiceAccount, with a token minted for STS,
 * may assume the role. Without the `sub` condition any pod in the cluster could.
 * https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
 */
export function irsaTrustPolicy(
  oidcProviderArn: string,
  oidcIssuer: string,
  subject: string,
): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${oidcIssuer}:sub`]: subject,
            [`${oidcIssuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ],
  });
}

/** The IRSA trust of `namespace/serviceAccount`, from the cluster's OIDC provider outputs. */
export function serviceAccountTrust(
  oidcProviderArn: pulumi.Input<string>,
  oidcIssuer: pulumi.Input<string>,
  namespace: string,
  serviceAccount: string,
): pulumi.Output<string> {
  const subject = serviceAccountSubject(namespace, serviceAccount);
  return pulumi
    .all([oidcProviderArn, oidcIssuer])
    .apply(([arn, issuer]) => irsaTrustPolicy(arn, issuer, subject));
}
