import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "../serviceTrust";
import { iamRoleNameProblem } from "../validation";

/** What the plan acts on in one site, every name computed from naming.ts. */
export interface PlanSiteResources {
  readonly region: string;
  /** naming.dbInstanceArn: the instance promoted when this site's region is activated. */
  readonly dbInstanceArn: string;
  /** naming.clusterArn. */
  readonly clusterArn: string;
  /** naming.regionSwitchFunctionArn of `fence` and `check`. */
  readonly functionArns: readonly string[];
  /** naming.backupBucketArn: the execution reports land under `reportPrefix`. */
  readonly bucketArn: string;
  /** naming.kmsKeyArnPattern and naming.kmsAliasName: the bucket's key, named by its alias. */
  readonly kmsKeyArnPattern: string;
  readonly kmsAliasName: string;
}

export interface RegionSwitchRoleArgs {
  /** naming.regionSwitchRoleName: fixed, so the peer's stack names it in its access entry. */
  readonly roleName: string;
  readonly accountId: string;
  /** Both sites. */
  readonly sites: readonly PlanSiteResources[];
  /** The hosted zone of the failover records. */
  readonly zoneId: string;
  /** naming.regionSwitchReportPrefix. */
  readonly reportPrefix: string;
  /** The trigger's CloudWatch alarms, read when the plan evaluates them. @default [] */
  readonly alarmArns?: readonly string[];
  /** @default "aws" */
  readonly partition?: string;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * The execution role's permissions: AWS's sample policy of each execution block the plan uses
 * (https://docs.aws.amazon.com/r53recovery/latest/dg/security_iam_region_switch_execution_blocks.html),
 * narrowed from `*` to the pair's own resources:
 *  - RdsPromoteReadReplica: rds:DescribeDBInstances, rds:PromoteReadReplica, rds:ModifyDBInstance
 *    (the sample's CreateDBInstanceReadReplica belongs to the replica-creating block, unused here);
 *  - CustomActionLambda: lambda:GetFunction and lambda:InvokeFunction on the two functions of each site;
 *  - EKSResourceScaling: eks:DescribeCluster on the clusters, eks:ListAssociatedAccessPolicies on
 *    their access entries (the Kubernetes side is the access entry, components/regionSwitch/access.ts);
 *  - Route53HealthCheck: route53:ListResourceRecordSets on the hosted zone;
 *  - execution reports: s3:PutObject where they land, and kms:GenerateDataKey and kms:Encrypt on
 *    the bucket's customer managed key
 *    (https://docs.aws.amazon.com/r53recovery/latest/dg/security_iam_region_switch_reports.html),
 *    through S3 only; keys are matched by their alias, as the peer's key id is not known here;
 *  - the trigger's alarms: cloudwatch:DescribeAlarms and DescribeAlarmHistory (same page).
 */
export function regionSwitchPolicy(p: {
  sites: readonly PlanSiteResources[];
  zoneId: string;
  reportPrefix: string;
  alarmArns: readonly string[];
  partition: string;
}): object {
  const eachSite = <T>(f: (s: PlanSiteResources) => T[]) => p.sites.flatMap(f);
  const statements: object[] = [
    {
      Sid: "PromoteReplica",
      Effect: "Allow",
      Action: ["rds:DescribeDBInstances", "rds:PromoteReadReplica", "rds:ModifyDBInstance"],
      Resource: eachSite((s) => [s.dbInstanceArn]),
    },
    {
      Sid: "InvokeStepFunctions",
      Effect: "Allow",
      Action: ["lambda:GetFunction", "lambda:InvokeFunction"],
      Resource: eachSite((s) => [...s.functionArns]),
    },
    {
      Sid: "DescribeClusters",
      Effect: "Allow",
      Action: ["eks:DescribeCluster"],
      Resource: eachSite((s) => [s.clusterArn]),
    },
    {
      Sid: "ReadAccessEntries",
      Effect: "Allow",
      Action: ["eks:ListAssociatedAccessPolicies"],
      Resource: eachSite((s) => [`${s.clusterArn.replace(":cluster/", ":access-entry/")}/*`]),
    },
    {
      Sid: "ReadFailoverRecords",
      Effect: "Allow",
      Action: ["route53:ListResourceRecordSets"],
      Resource: [`arn:${p.partition}:route53:::hostedzone/${p.zoneId}`],
    },
    {
      Sid: "WriteReports",
      Effect: "Allow",
      Action: ["s3:PutObject"],
      Resource: eachSite((s) => [`${s.bucketArn}/${p.reportPrefix}*`]),
    },
    ...p.sites.map((s, i) => ({
      Sid: `EncryptReports${i}`,
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Encrypt"],
      Resource: [s.kmsKeyArnPattern],
      Condition: {
        StringEquals: { "kms:ViaService": `s3.${s.region}.amazonaws.com` },
        "ForAnyValue:StringEquals": { "kms:ResourceAliases": [s.kmsAliasName] },
      },
    })),
  ];
  if (p.alarmArns.length > 0) {
    statements.push({
      Sid: "ReadTriggerAlarms",
      Effect: "Allow",
      Action: ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
      Resource: [...p.alarmArns],
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}

/**
 * The role Region switch assumes to run the plan, declared by the plan's owner stack in every
 * role (an execution during the failover it exists for must create no IAM). Trust: the service
 * principal of AWS's "Plan execution role trust policy"
 * (https://docs.aws.amazon.com/r53recovery/latest/dg/security_iam_region_switch_trust_policy.html),
 * with aws:SourceAccount as every service role here has it (components/serviceTrust.ts).
 */
export class RegionSwitchRole extends pulumi.ComponentResource {
  public readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: RegionSwitchRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:regionSwitch:RegionSwitchRole", name, {}, opts);
    const nameProblem = iamRoleNameProblem(args.roleName);
    if (nameProblem) throw new Error(`[roleName] ${nameProblem}`);
    const role = new aws.iam.Role(
      name,
      {
        name: args.roleName,
        description: "ARC Region switch: runs the pair's failover plan",
        assumeRolePolicy: JSON.stringify(
          serviceTrustPolicy("arc-region-switch.amazonaws.com", args.accountId),
        ),
        tags: args.tags ?? {},
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      name,
      {
        role: role.name,
        policy: JSON.stringify(
          regionSwitchPolicy({
            sites: args.sites,
            zoneId: args.zoneId,
            reportPrefix: args.reportPrefix,
            alarmArns: args.alarmArns ?? [],
            partition: args.partition ?? "aws",
          }),
        ),
      },
      { parent: this },
    );
    this.roleArn = role.arn;
    this.registerOutputs({ roleArn: this.roleArn });
  }
}
