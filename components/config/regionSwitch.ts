import { z } from "zod";
import { HEALTH_CHECK_ID } from "../dns/rules";
import { NAMESPACE } from "./primitives";

/**
 * The keys of the pair's ARC Region switch plan (`dr-stack:regionSwitch`) and of the applications
 * it scales (`dr-stack:applications`). Both are identical in both stack files (docs/region-switch.md).
 */

/** Defaults of the plan (also the config defaults). */
export const REGION_SWITCH_DEFAULTS = {
  /** The dashboard's target; CreatePlan accepts 1-10080. */
  recoveryTimeObjectiveMinutes: 60,
  /** Region switch's minimum gap between two executions a trigger starts. */
  triggerMinDelayMinutes: 60,
} as const;

export const regionSwitchSchema = z.strictObject({
  /**
   * The one stack that declares the plan and its execution role, in every role (the plan is the
   * same whatever the roles are). Usually the site deployed first (docs/first-deployment.md).
   */
  ownerSite: z.string(),
  /** https://docs.aws.amazon.com/arc-region-switch/latest/api/API_CreatePlan.html */
  recoveryTimeObjectiveMinutes: z
    .number()
    .int()
    .min(1)
    .max(10080)
    .default(REGION_SWITCH_DEFAULTS.recoveryTimeObjectiveMinutes),
  /**
   * The Route 53 health checks Region switch created for the plan, one per site, read once after
   * the plan exists and pinned here; each site's failover record carries its own.
   */
  healthCheckIds: z
    .record(
      z.string(),
      z.string().regex(HEALTH_CHECK_ID, {
        error:
          "must be a Route 53 health check id such as 0d6ac1a2-3b4c-4d5e-8f60-718293a4b5c6 (from " +
          "aws arc-region-switch list-route53-health-checks-in-region, docs/first-deployment.md)",
      }),
    )
    .default({}),
  /**
   * Optional automatic start: when the CloudWatch alarm named for a site is red, the plan
   * activates the other site's region. Off (unset) by default: a failover loses up to the
   * replica's lag, which a person decides to accept.
   */
  trigger: z
    .strictObject({
      alarmArns: z.record(
        z.string(),
        z.string().regex(/^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$/, {
          error:
            "must be a CloudWatch alarm ARN such as arn:aws:cloudwatch:us-east-1:111122223333:alarm:app-down",
        }),
      ),
      minDelayMinutesBetweenExecutions: z
        .number()
        .int()
        .min(1)
        .default(REGION_SWITCH_DEFAULTS.triggerMinDelayMinutes),
    })
    .optional(),
});

/** A Kubernetes object name (DNS-1123 label): namespaces and Deployments. */
const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
  error:
    "must be a DNS-1123 label: 1-63 of a-z, 0-9 and -, starting and ending with a letter or digit",
});

export const applicationsSchema = z.strictObject({
  /** The namespace, in each cluster, of the applications and of their database Secret. */
  namespace: k8sName.default("app"),
  /** Deployments in that namespace the plan scales up in the region it activates. */
  deployments: z.array(k8sName).default([]),
  /**
   * Replicas to reach in the activated region, as a percentage of the most the deactivated
   * region ran over the last 24 hours (EKSResourceScaling's targetPercent).
   */
  scalePercent: z.number().int().min(1).max(200).default(100),
});

export type RegionSwitchConfig = z.infer<typeof regionSwitchSchema>;
export type ApplicationsConfig = z.infer<typeof applicationsSchema>;

/** The Region switch rules across keys, each at the key to change. */
export function regionSwitchConfigIssues(
  rs: RegionSwitchConfig | undefined,
  sites: readonly string[],
  dnsSet: boolean,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const list = sites.join(", ");
  // Without a plan the records wait (no health check of Region switch to carry yet): the
  // first deployment's first steps (docs/first-deployment.md).
  if (rs === undefined) return issues;
  if (!dnsSet) {
    issues.push({
      path: ["regionSwitch"],
      message:
        `is set but ${NAMESPACE}:dns is not: the plan moves traffic over the failover records, so ` +
        `configure ${NAMESPACE}:dns too (docs/dns-failover.md)`,
    });
  }
  if (!sites.includes(rs.ownerSite)) {
    issues.push({
      path: ["regionSwitch", "ownerSite"],
      message: `"${rs.ownerSite}" is not one of the sites (${list}); set the same site in both stacks`,
    });
  }
  for (const site of Object.keys(rs.healthCheckIds)) {
    if (!sites.includes(site)) {
      issues.push({
        path: ["regionSwitch", "healthCheckIds", site],
        message: `names "${site}", which is not one of the sites (${list})`,
      });
    }
  }
  const ids = Object.values(rs.healthCheckIds);
  if (new Set(ids).size !== ids.length) {
    issues.push({
      path: ["regionSwitch", "healthCheckIds"],
      message:
        "gives two sites the same health check: Region switch makes one per Region, and each " +
        "record must carry its own Region's, or both records share one status and traffic never moves",
    });
  }
  for (const site of Object.keys(rs.trigger?.alarmArns ?? {})) {
    if (!sites.includes(site)) {
      issues.push({
        path: ["regionSwitch", "trigger", "alarmArns", site],
        message: `names "${site}", which is not one of the sites (${list})`,
      });
    }
  }
  return issues;
}

/**
 * `aws:stsRegion` pinned to the site's own region: the provider then calls the regional STS
 * endpoint of the region it deploys, not one named by an environment variable or profile, so an
 * update of the surviving stack asks nothing of the failed region.
 * https://www.pulumi.com/registry/packages/aws/api-docs/provider/#stsregion_nodejs
 */
export function providerRegionIssues(
  provider: { region?: string; stsRegion?: string },
  siteRegion: string,
): string[] {
  const out: string[] = [];
  if (provider.region !== siteRegion) {
    out.push(
      `aws:region: ${JSON.stringify(provider.region ?? null)} is not the site's region ${siteRegion}; ` +
        `set \`pulumi config set aws:region ${siteRegion}\``,
    );
  }
  if (provider.stsRegion !== siteRegion) {
    out.push(
      `aws:stsRegion: ${JSON.stringify(provider.stsRegion ?? null)} is not the site's region ${siteRegion}; ` +
        `pin it with \`pulumi config set aws:stsRegion ${siteRegion}\` so that credentials come from ` +
        `this region's STS endpoint, never from another region's`,
    );
  }
  return out;
}
