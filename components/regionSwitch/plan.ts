import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** One site as the plan names it; every value comes from naming.ts, never from a stack's state. */
export interface PlanSite {
  readonly site: string;
  readonly region: string;
  /** naming.dbInstanceArn: promoted when this site's region is activated. */
  readonly dbInstanceArn: string;
  /** naming.clusterArn. */
  readonly clusterArn: string;
  /** naming.regionSwitchFunctionArn(…, "fence") and (…, "check"). */
  readonly fenceFunctionArn: string;
  readonly checkFunctionArn: string;
  /** naming.backupBucketName: the execution reports land in each site's bucket. */
  readonly bucketName: string;
  /** naming.failoverSetIdentifier: the site's failover record. */
  readonly setIdentifier: string;
}

export interface RegionSwitchPlanArgs {
  /** naming.regionSwitchPlanName. */
  readonly planName: string;
  /** naming.regionSwitchRoleArn. */
  readonly executionRoleArn: string;
  readonly accountId: string;
  /** Both sites, in config order. */
  readonly sites: readonly PlanSite[];
  /** The region whose record answers as PRIMARY (dr-stack:dns.primarySite's). */
  readonly primaryRegion: string;
  /** The shared failover record: the traffic step's zone and name. */
  readonly zoneId: string;
  readonly recordName: string;
  /** Deployments the plan scales in the activated cluster, and their namespace. */
  readonly applications: {
    readonly namespace: string;
    readonly deployments: readonly string[];
    readonly scalePercent: number;
  };
  /** naming.regionSwitchReportPrefix. */
  readonly reportPrefix: string;
  /** @default 60 */
  readonly recoveryTimeObjectiveMinutes?: number;
  /**
   * Automatic start: a site's alarm ARN; red activates the other site's region.
   * @default undefined (no trigger: a person starts the plan)
   */
  readonly trigger?: {
    readonly alarmArns: Readonly<Record<string, string>>;
    readonly minDelayMinutesBetweenExecutions: number;
  };
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/** The step names, in order; runbooks and the execution report name them. */
export const PLAN_STEPS = {
  fence: "fence-old-primary",
  promote: "promote-replica",
  traffic: "move-traffic",
  scale: "scale-applications",
  check: "post-check",
} as const;

/**
 * Step bounds. The fence is bounded well below a minute (its function's own bounds are 5 s per
 * call); the promotion and the check wait for RDS's reboot, which takes minutes; the check is
 * retried each minute until the database takes writes.
 */
export const STEP_TIMEOUT_MINUTES = { fence: 2, promote: 30, traffic: 10, scale: 20, check: 30 };

/**
 * Every argument of the plan, as a pure function of names and config: no role, no output of any
 * resource, so the plan is the same in every role of the owner stack and no failover update can
 * change it (docs/region-switch.md).
 *
 * One `activate` workflow per region, the same steps in each:
 *  1. fence: the deactivated region's function (regionToRun `deactivatingRegion`) makes the old
 *     primary read-only if it answers. `ungraceful: skip`: an outage execution does not wait on
 *     the region it leaves ("In ungraceful execution mode, Region switch skips the Lambda
 *     execution block step", https://docs.aws.amazon.com/r53recovery/latest/dg/custom-action-lambda-block.html);
 *  2. promote: RdsPromoteReadReplica with each region's instance ARN; Region switch promotes the
 *     one in the region being activated (https://docs.aws.amazon.com/r53recovery/latest/dg/rds-promote-read-replica-block.html);
 *  3. traffic: the Route 53 health check block over the fixed failover records, mapped to their
 *     regions by set identifier (https://docs.aws.amazon.com/r53recovery/latest/dg/route53-health-check-block.html);
 *  4. scale: EKSResourceScaling of the named Deployments in the activated cluster to
 *     `scalePercent` of the most the other ran in 24 hours (only when Deployments are named).
 *     The API's scalingResources is a list of application -> region -> {namespace, name}
 *     (https://docs.aws.amazon.com/arc-region-switch/latest/api/API_EksResourceScalingConfiguration.html);
 *     the provider spells the application key `namespace` and the region key `resourceName`;
 *  5. check: the activated region's function checks writes, runs the smoke SQL and measures the
 *     data at risk; retried each minute until it passes or times out.
 */
export function regionSwitchPlanArgs(a: RegionSwitchPlanArgs): aws.arcregionswitch.PlanArgs {
  const sites = a.sites;
  const t = STEP_TIMEOUT_MINUTES;
  const steps: aws.types.input.arcregionswitch.PlanWorkflowStep[] = [
    {
      name: PLAN_STEPS.fence,
      description: "Best effort: the old primary read-only and its sessions ended, if it answers",
      executionBlockType: "CustomActionLambda",
      customActionLambdaConfigs: [
        {
          lambdas: sites.map((s) => ({ arn: s.fenceFunctionArn })),
          regionToRun: "deactivatingRegion",
          retryIntervalMinutes: 1,
          timeoutMinutes: t.fence,
          ungracefuls: [{ behavior: "skip" }],
        },
      ],
    },
    {
      name: PLAN_STEPS.promote,
      description: "Promote the activated region's read replica to a standalone primary",
      executionBlockType: "RdsPromoteReadReplica",
      rdsPromoteReadReplicaConfigs: [
        {
          dbInstanceArnMap: Object.fromEntries(sites.map((s) => [s.region, s.dbInstanceArn])),
          timeoutMinutes: t.promote,
        },
      ],
    },
    {
      name: PLAN_STEPS.traffic,
      description: "Answer DNS with the activated region's failover record",
      executionBlockType: "Route53HealthCheck",
      route53HealthCheckConfigs: [
        {
          hostedZoneId: a.zoneId,
          recordName: a.recordName,
          recordSets: sites.map((s) => ({
            recordSetIdentifier: s.setIdentifier,
            region: s.region,
          })),
          timeoutMinutes: t.traffic,
        },
      ],
    },
  ];
  const apps = a.applications;
  if (apps.deployments.length > 0) {
    steps.push({
      name: PLAN_STEPS.scale,
      description: `Scale the Deployments of ${apps.namespace} in the activated cluster`,
      executionBlockType: "EKSResourceScaling",
      eksResourceScalingConfigs: [
        {
          eksClusters: sites.map((s) => ({ clusterArn: s.clusterArn })),
          kubernetesResourceTypes: [{ apiVersion: "apps/v1", kind: "Deployment" }],
          scalingResources: apps.deployments.map((d) => ({
            namespace: d,
            resources: sites.map((s) => ({
              resourceName: s.region,
              name: d,
              namespace: apps.namespace,
            })),
          })),
          // The only approach the EKS block offers (eks-resource-scaling-block.html).
          capacityMonitoringApproach: "sampledMaxInLast24Hours",
          targetPercent: apps.scalePercent,
          timeoutMinutes: t.scale,
        },
      ],
    });
  }
  steps.push({
    name: PLAN_STEPS.check,
    description: "Writes, smoke SQL and the data at risk on the promoted database",
    executionBlockType: "CustomActionLambda",
    customActionLambdaConfigs: [
      {
        lambdas: sites.map((s) => ({ arn: s.checkFunctionArn })),
        regionToRun: "activatingRegion",
        retryIntervalMinutes: 1,
        timeoutMinutes: t.check,
      },
    ],
  });

  const alarms = Object.entries(a.trigger?.alarmArns ?? {});
  const other = (site: string) => sites.find((s) => s.site !== site) as PlanSite;
  return {
    name: a.planName,
    description: `Fail over the ${sites.map((s) => s.site).join("/")} pair: fence, promote, traffic, scale, check`,
    executionRole: a.executionRoleArn,
    recoveryApproach: "activePassive",
    regions: sites.map((s) => s.region),
    primaryRegion: a.primaryRegion,
    recoveryTimeObjectiveMinutes: a.recoveryTimeObjectiveMinutes ?? 60,
    workflows: sites.map((s) => ({
      workflowTargetAction: "activate",
      workflowTargetRegion: s.region,
      workflowDescription: `Activate ${s.site} (${s.region})`,
      steps,
    })),
    reportConfigurations: [
      {
        reportOutputs: sites.map((s) => ({
          s3Configurations: [
            { bucketOwner: a.accountId, bucketPath: `s3://${s.bucketName}/${a.reportPrefix}` },
          ],
        })),
      },
    ],
    ...(alarms.length > 0
      ? {
          associatedAlarms: alarms.map(([site, arn]) => ({
            mapBlockKey: `${site}-down`,
            alarmType: "trigger",
            resourceIdentifier: arn,
          })),
          triggers: alarms.map(([site]) => ({
            description: `${site} down: activate ${other(site).site}`,
            action: "activate",
            targetRegion: other(site).region,
            minDelayMinutesBetweenExecutions: a.trigger?.minDelayMinutesBetweenExecutions ?? 60,
            conditions: [{ associatedAlarmName: `${site}-down`, condition: "red" }],
          })),
        }
      : {}),
    tags: a.tags ?? {},
  };
}

/** Why the arguments cannot make a plan, each naming its argument. */
export function regionSwitchPlanArgsProblems(a: RegionSwitchPlanArgs): string[] {
  const out: string[] = [];
  // CreatePlan: name 1-32 of [a-zA-Z0-9-], two regions exactly.
  // https://docs.aws.amazon.com/arc-region-switch/latest/api/API_CreatePlan.html
  if (!/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$/.test(a.planName)) {
    out.push(`[planName] "${a.planName}" must be 1-32 of a-z, A-Z, 0-9 and inner hyphens`);
  }
  if (a.sites.length !== 2 || a.sites[0].region === a.sites[1].region) {
    out.push(
      `[sites] a plan spans exactly two regions, got ${a.sites.map((s) => s.region).join(", ")}`,
    );
  }
  if (!a.sites.some((s) => s.region === a.primaryRegion)) {
    out.push(`[primaryRegion] ${a.primaryRegion} is not one of the sites' regions`);
  }
  const rto = a.recoveryTimeObjectiveMinutes ?? 60;
  if (!Number.isInteger(rto) || rto < 1 || rto > 10080) {
    out.push(
      `[recoveryTimeObjectiveMinutes] must be a whole number of minutes from 1 to 10080, got ${rto}`,
    );
  }
  return out;
}

/**
 * The pair's ARC Region switch plan, declared by one stack (dr-stack:regionSwitch.ownerSite) in
 * every role. Region switch keeps plans outside any one region (the plan ARN has none) and
 * serves executions from a data plane in each region; creating and updating a plan is a control
 * plane call, which no failover update makes: the arguments are role-independent
 * (https://docs.aws.amazon.com/r53recovery/latest/dg/actions.region-switch.html).
 */
export class RegionSwitchPlan extends pulumi.ComponentResource {
  public readonly planArn: pulumi.Output<string>;

  constructor(name: string, args: RegionSwitchPlanArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:regionSwitch:RegionSwitchPlan", name, {}, opts);
    const problems = regionSwitchPlanArgsProblems(args);
    if (problems.length > 0) {
      throw new Error(
        `RegionSwitchPlan ${name}: invalid arguments:\n  - ${problems.join("\n  - ")}`,
      );
    }
    const plan = new aws.arcregionswitch.Plan(name, regionSwitchPlanArgs(args), { parent: this });
    this.planArn = plan.arn;
    this.registerOutputs({ planArn: this.planArn });
  }
}
