import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "../serviceTrust";
import { iamRoleNameProblem } from "../validation";
import { bundleHandler, HANDLERS } from "./bundle";

export interface RegionSwitchFunctionsArgs {
  /** The site's region: the functions, their role's secret grant and their logs live there. */
  readonly region: string;
  readonly accountId: string;
  /** naming.regionSwitchFunctionName of `fence` and `check`. */
  readonly functionNames: { readonly fence: string; readonly check: string };
  /** naming.regionSwitchFunctionRoleName. */
  readonly roleName: string;
  /** Private subnets of the site's VPC: the functions reach the database from there. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** A security group the database admits (the cluster's). */
  readonly securityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The site's database: the instance's endpoint, which promotion does not change. */
  readonly dbHost: pulumi.Input<string>;
  readonly dbPort: pulumi.Input<number>;
  readonly dbName: string;
  /** naming.dbMasterSecretName, and every ARN it can have in this region (naming.secretArnPattern). */
  readonly masterSecretName: string;
  readonly masterSecretArnPattern: string;
  /** The site key, which encrypts the master secret. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Queries the check runs after the write check (dr-stack:jobs.smokeSql). @default [] */
  readonly smokeSql?: readonly string[];
  /** Days the functions' logs are kept. @default 90 */
  readonly logRetentionDays?: number;
  /** @default "aws" */
  readonly partition?: string;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/** Seconds each function may run: above the sum of its own bounds (lambdas/fence.ts, check.ts). */
export const FUNCTION_TIMEOUT_SECONDS = { fence: 30, check: 90 } as const;

/**
 * The permissions of the functions' role, beyond AWS's managed AWSLambdaVPCAccessExecutionRole
 * (network interfaces in the VPC, and logs): read the site's master secret in this region, and
 * decrypt it with the site key through Secrets Manager only.
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
 */
export function regionSwitchFunctionsPolicy(p: {
  region: string;
  masterSecretArnPattern: string;
  kmsKeyArn: string;
}): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadMasterSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [p.masterSecretArnPattern],
      },
      {
        Sid: "DecryptMasterSecret",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: [p.kmsKeyArn],
        Condition: {
          StringEquals: { "kms:ViaService": `secretsmanager.${p.region}.amazonaws.com` },
        },
      },
    ],
  };
}

/**
 * The two functions the plan runs in this site's region (the fence when this region is left,
 * the check when it is activated), declared by each stack in every role, in the VPC, with their
 * role and logs. The code is bundled at program time (./bundle.ts) from ./lambdas.
 */
export class RegionSwitchFunctions extends pulumi.ComponentResource {
  public readonly fenceFunctionArn: pulumi.Output<string>;
  public readonly checkFunctionArn: pulumi.Output<string>;

  constructor(
    name: string,
    args: RegionSwitchFunctionsArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("drstack:regionSwitch:RegionSwitchFunctions", name, {}, opts);
    const nameProblem = iamRoleNameProblem(args.roleName);
    if (nameProblem) throw new Error(`[roleName] ${nameProblem}`);
    const tags = args.tags ?? {};
    const partition = args.partition ?? "aws";
    const child = { parent: this };

    const role = new aws.iam.Role(
      `${name}-role`,
      {
        name: args.roleName,
        description: "Region switch fence and check functions of the site",
        assumeRolePolicy: JSON.stringify(
          serviceTrustPolicy("lambda.amazonaws.com", args.accountId),
        ),
        tags,
      },
      child,
    );
    const vpcAccess = new aws.iam.RolePolicyAttachment(
      `${name}-vpc`,
      {
        role: role.name,
        policyArn: `arn:${partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`,
      },
      child,
    );
    const secretAccess = new aws.iam.RolePolicy(
      `${name}-secret`,
      {
        role: role.name,
        policy: pulumi.output(args.kmsKeyArn).apply((kmsKeyArn) =>
          JSON.stringify(
            regionSwitchFunctionsPolicy({
              region: args.region,
              masterSecretArnPattern: args.masterSecretArnPattern,
              kmsKeyArn,
            }),
          ),
        ),
      },
      child,
    );

    const make = (fn: "fence" | "check") => {
      const functionName = args.functionNames[fn];
      const logs = new aws.cloudwatch.LogGroup(
        `${name}-${fn}`,
        {
          region: args.region,
          name: `/aws/lambda/${functionName}`,
          retentionInDays: args.logRetentionDays ?? 90,
          tags,
        },
        child,
      );
      return new aws.lambda.Function(
        `${name}-${fn}`,
        {
          region: args.region,
          name: functionName,
          description:
            fn === "fence"
              ? "Region switch: best-effort SQL fence of this site's database when its region is left"
              : "Region switch: writes, smoke SQL and data at risk on this site's promoted database",
          role: role.arn,
          runtime: "nodejs22.x",
          handler: "index.handler",
          code: new pulumi.asset.AssetArchive({
            "index.js": new pulumi.asset.StringAsset(bundleHandler(HANDLERS[fn])),
          }),
          timeout: FUNCTION_TIMEOUT_SECONDS[fn],
          memorySize: 256,
          vpcConfig: { subnetIds: args.subnetIds, securityGroupIds: args.securityGroupIds },
          environment: {
            variables: {
              DB_HOST: args.dbHost,
              DB_PORT: pulumi.output(args.dbPort).apply(String),
              DB_NAME: args.dbName,
              DB_SECRET_ID: args.masterSecretName,
              SMOKE_SQL: JSON.stringify(args.smokeSql ?? []),
              // The runtime's CA bundle, RDS's authorities included, for TLS to the database.
              // https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#nodejs-certificate-loading
              NODE_EXTRA_CA_CERTS: "/var/runtime/ca-cert.pem",
            },
          },
          tags,
        },
        { parent: this, dependsOn: [logs, vpcAccess, secretAccess] },
      );
    };
    const fence = make("fence");
    const check = make("check");
    this.fenceFunctionArn = fence.arn;
    this.checkFunctionArn = check.arn;
    this.registerOutputs({
      fenceFunctionArn: this.fenceFunctionArn,
      checkFunctionArn: this.checkFunctionArn,
    });
  }
}
