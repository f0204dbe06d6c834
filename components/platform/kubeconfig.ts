/** What a kubeconfig for an EKS cluster needs. */
export interface KubeconfigInput {
  readonly clusterName: string;
  readonly endpoint: string;
  /** Base64 certificate authority data, as EKS reports it. */
  readonly caData: string;
  readonly region: string;
}

/**
 * A kubeconfig that gets a token from `aws eks get-token`, so no long-lived credential is stored
 * in it; JSON is valid YAML, and kubectl and the Kubernetes provider both read it.
 */
export function kubeconfigFor(k: KubeconfigInput): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: k.clusterName,
        cluster: { server: k.endpoint, "certificate-authority-data": k.caData },
      },
    ],
    contexts: [{ name: k.clusterName, context: { cluster: k.clusterName, user: k.clusterName } }],
    "current-context": k.clusterName,
    users: [
      {
        name: k.clusterName,
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", k.clusterName, "--region", k.region],
          },
        },
      },
    ],
  });
}
