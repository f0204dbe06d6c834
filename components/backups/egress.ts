import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { parseCidr } from "../validation";

/** RFC 1918, CGNAT (EKS custom networking) and link-local (IMDS: pods must use IRSA, not the node role). */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"];
const LINK_LOCAL = "169.254.0.0/16";

/**
 * Destinations for HTTPS: everything but private and link-local ranges. S3 (and STS, Secrets
 * Manager, CloudWatch) have no fixed CIDR, and NetworkPolicy cannot name the S3 managed prefix
 * list, so "public addresses on 443" is the narrowest rule that stays correct when AWS adds
 * ranges. Excluding the private ranges keeps the jobs off every in-VPC service (the API server's
 * ENIs, other pods, the database on any port but 5432).
 */
export function httpsExcept(vpcCidr: string): string[] {
  const vpc = parseCidr(vpcCidr);
  const covered = PRIVATE_RANGES.some((r) => {
    const range = parseCidr(r);
    return vpc && range && range.first <= vpc.first && vpc.last <= range.last;
  });
  return [...PRIVATE_RANGES, ...(covered ? [] : [vpcCidr]), LINK_LOCAL];
}

/**
 * The backup namespace's egress-only NetworkPolicy: no ingress at all; out to cluster DNS, the
 * database port inside the VPC, and HTTPS outside the private ranges (httpsExcept).
 */
export function jobsEgressPolicy(
  name: string,
  a: { namespace: string; labels: Record<string, string>; vpcCidr: string; databasePort: number },
  opts: pulumi.CustomResourceOptions,
): k8s.networking.v1.NetworkPolicy {
  return new k8s.networking.v1.NetworkPolicy(
    name,
    {
      metadata: { name: "drctl-egress-only", namespace: a.namespace, labels: a.labels },
      spec: {
        podSelector: {},
        // Ingress listed with no rules: nothing may connect to the jobs.
        policyTypes: ["Ingress", "Egress"],
        ingress: [],
        egress: [
          {
            to: [
              {
                namespaceSelector: {
                  matchLabels: { "kubernetes.io/metadata.name": "kube-system" },
                },
                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
              },
            ],
            ports: [
              { protocol: "UDP", port: 53 },
              { protocol: "TCP", port: 53 },
            ],
          },
          {
            to: [{ ipBlock: { cidr: a.vpcCidr } }],
            ports: [{ protocol: "TCP", port: a.databasePort }],
          },
          {
            to: [{ ipBlock: { cidr: "0.0.0.0/0", except: httpsExcept(a.vpcCidr) } }],
            ports: [{ protocol: "TCP", port: 443 }],
          },
        ],
      },
    },
    opts,
  );
}
