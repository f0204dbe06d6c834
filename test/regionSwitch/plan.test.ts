import { describe, expect, it } from "vitest";
import { runStack, STACK_ROLES, type StackRun } from "../harness";

/**
 * The pair's Region switch plan in mocked runs of both stacks in every role: the owner stack
 * (use1, dr-stack:regionSwitch.ownerSite) declares the plan and its execution role; every stack
 * declares its fence and check functions and the plan's access entry; the plan is the same in
 * every role, and no `up` asks Region switch anything.
 */

const PLAN = "aws:arcregionswitch/plan:Plan";
const ROLE = "aws:iam/role:Role";
const FUNCTION = "aws:lambda/function:Function";
const ACCESS = "aws:eks/accessEntry:AccessEntry";
const ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation";
const EXEC_ROLE_ARN = "arn:aws:iam::111122223333:role/acme-dr-region-switch";

const runs = new Map<string, StackRun>();
async function run(stack: "primary" | "dr", role: string): Promise<StackRun> {
  const key = `${stack}/${role}`;
  if (!runs.has(key)) runs.set(key, await runStack(stack, { role }));
  return runs.get(key) as StackRun;
}

const stepsOf = (plan: Record<string, any>, region: string) =>
  (plan.workflows as any[]).find((w) => w.workflowTargetRegion === region).steps as any[];

describe("the Region switch plan", { timeout: 600_000 }, () => {
  it("the owner stack declares it in every role with the same arguments, the other stack never", async () => {
    const plans = [];
    for (const [stack, role] of STACK_ROLES) {
      const r = await run(stack, role);
      if (stack === "primary") plans.push(r.one(PLAN).inputs);
      else expect(r.ofType(PLAN), `${stack}/${role}`).toEqual([]);
    }
    expect(plans).toHaveLength(2);
    for (const p of plans) expect(p).toEqual(plans[0]);
    // A role only an override reaches (use1 rebuilt as standby, then promoting) changes nothing.
    for (const role of ["standby", "promoting"]) {
      const r = await runStack("primary", { role });
      expect(r.one(PLAN).inputs, role).toEqual(plans[0]);
    }
  });

  it("both directions, active/passive, RTO from config, reports to each site's bucket", async () => {
    const plan = (await run("primary", "primary")).one(PLAN);
    expect(plan.inputs).toMatchObject({
      name: "acme-dr-dr",
      executionRole: EXEC_ROLE_ARN,
      recoveryApproach: "activePassive",
      regions: ["us-east-1", "us-west-2"],
      primaryRegion: "us-east-1",
      recoveryTimeObjectiveMinutes: 60,
      reportConfigurations: [
        {
          reportOutputs: [
            {
              s3Configurations: [
                {
                  bucketOwner: "111122223333",
                  bucketPath: "s3://acme-dr-use1-backups-111122223333/reports/region-switch/",
                },
              ],
            },
            {
              s3Configurations: [
                {
                  bucketOwner: "111122223333",
                  bucketPath: "s3://acme-dr-usw2-backups-111122223333/reports/region-switch/",
                },
              ],
            },
          ],
        },
      ],
    });
    expect(
      (plan.inputs.workflows as any[]).map((w) => [w.workflowTargetAction, w.workflowTargetRegion]),
    ).toEqual([
      ["activate", "us-east-1"],
      ["activate", "us-west-2"],
    ]);
    // Off by default: a person starts the plan.
    expect(plan.inputs.triggers).toBeUndefined();
    expect(plan.inputs.associatedAlarms).toBeUndefined();
    const rto = await runStack("primary", { regionSwitch: { recoveryTimeObjectiveMinutes: 45 } });
    expect(rto.one(PLAN).inputs.recoveryTimeObjectiveMinutes).toBe(45);
  });

  it("each direction fences, promotes, moves traffic, scales and checks, in that order", async () => {
    const plan = (await run("primary", "primary")).one(PLAN).inputs;
    for (const region of ["us-east-1", "us-west-2"]) {
      const steps = stepsOf(plan, region);
      expect(steps.map((s) => [s.name, s.executionBlockType])).toEqual([
        ["fence-old-primary", "CustomActionLambda"],
        ["promote-replica", "RdsPromoteReadReplica"],
        ["move-traffic", "Route53HealthCheck"],
        ["scale-applications", "EKSResourceScaling"],
        ["post-check", "CustomActionLambda"],
      ]);
      const [fence, promote, traffic, scale, check] = steps;
      expect(fence.customActionLambdaConfigs).toEqual([
        {
          lambdas: [
            { arn: "arn:aws:lambda:us-east-1:111122223333:function:acme-dr-use1-rs-fence" },
            { arn: "arn:aws:lambda:us-west-2:111122223333:function:acme-dr-usw2-rs-fence" },
          ],
          // The region being left runs its own fence; an outage execution skips it.
          regionToRun: "deactivatingRegion",
          retryIntervalMinutes: 1,
          timeoutMinutes: 2,
          ungracefuls: [{ behavior: "skip" }],
        },
      ]);
      expect(promote.rdsPromoteReadReplicaConfigs).toEqual([
        {
          dbInstanceArnMap: {
            "us-east-1": "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg",
            "us-west-2": "arn:aws:rds:us-west-2:111122223333:db:acme-dr-usw2-pg",
          },
          timeoutMinutes: 30,
        },
      ]);
      expect(traffic.route53HealthCheckConfigs).toEqual([
        {
          hostedZoneId: "Z0123456789ABCDEFGHIJ",
          recordName: "app.acme-dr.example.com",
          recordSets: [
            { recordSetIdentifier: "acme-dr-use1", region: "us-east-1" },
            { recordSetIdentifier: "acme-dr-usw2", region: "us-west-2" },
          ],
          timeoutMinutes: 10,
        },
      ]);
      expect(scale.eksResourceScalingConfigs).toEqual([
        {
          eksClusters: [
            { clusterArn: "arn:aws:eks:us-east-1:111122223333:cluster/acme-dr-use1" },
            { clusterArn: "arn:aws:eks:us-west-2:111122223333:cluster/acme-dr-usw2" },
          ],
          kubernetesResourceTypes: [{ apiVersion: "apps/v1", kind: "Deployment" }],
          scalingResources: ["web", "worker"].map((d) => ({
            namespace: d,
            resources: [
              { resourceName: "us-east-1", name: d, namespace: "app" },
              { resourceName: "us-west-2", name: d, namespace: "app" },
            ],
          })),
          capacityMonitoringApproach: "sampledMaxInLast24Hours",
          targetPercent: 100,
          timeoutMinutes: 20,
        },
      ]);
      expect(check.customActionLambdaConfigs).toEqual([
        {
          lambdas: [
            { arn: "arn:aws:lambda:us-east-1:111122223333:function:acme-dr-use1-rs-check" },
            { arn: "arn:aws:lambda:us-west-2:111122223333:function:acme-dr-usw2-rs-check" },
          ],
          regionToRun: "activatingRegion",
          retryIntervalMinutes: 1,
          timeoutMinutes: 30,
        },
      ]);
    }
  });

  it("the promote step names the replica the dr stack declares, by the ARN RDS gives it", async () => {
    const plan = (await run("primary", "primary")).one(PLAN).inputs;
    const replica = (await run("dr", "standby")).one("aws:rds/instance:Instance");
    // The replica's source is use1's instance; the plan promotes this one when us-west-2 is activated.
    expect(replica.inputs.replicateSourceDb).toBe(
      "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg",
    );
    expect(stepsOf(plan, "us-west-2")[1].rdsPromoteReadReplicaConfigs[0].dbInstanceArnMap).toEqual(
      expect.objectContaining({ "us-west-2": replica.state.arn }),
    );
    const fn = (await run("dr", "standby")).one(FUNCTION, "acme-dr-usw2-rs-check");
    expect(stepsOf(plan, "us-west-2")[4].customActionLambdaConfigs[0].lambdas).toContainEqual({
      arn: fn.state.arn,
    });
  });

  it("without Deployments named the plan has no scaling step", async () => {
    const r = await runStack("primary", { applications: { deployments: [] } });
    expect(stepsOf(r.one(PLAN).inputs, "us-west-2").map((s) => s.name)).toEqual([
      "fence-old-primary",
      "promote-replica",
      "move-traffic",
      "post-check",
    ]);
  });

  it("an alarm trigger, when configured, activates the other site's region", async () => {
    const alarm = "arn:aws:cloudwatch:us-west-2:111122223333:alarm:use1-app-down";
    const r = await runStack("primary", {
      regionSwitch: { trigger: { alarmArns: { use1: alarm } } },
    });
    const plan = r.one(PLAN).inputs;
    expect(plan.associatedAlarms).toEqual([
      { mapBlockKey: "use1-down", alarmType: "trigger", resourceIdentifier: alarm },
    ]);
    expect(plan.triggers).toEqual([
      {
        description: "use1 down: activate usw2",
        action: "activate",
        targetRegion: "us-west-2",
        minDelayMinutesBetweenExecutions: 60,
        conditions: [{ associatedAlarmName: "use1-down", condition: "red" }],
      },
    ]);
    const policy = JSON.parse(
      r.one("aws:iam/rolePolicy:RolePolicy", "acme-dr-use1-rs-exec").inputs.policy,
    );
    expect(policy.Statement.find((s: any) => s.Sid === "ReadTriggerAlarms")).toEqual({
      Sid: "ReadTriggerAlarms",
      Effect: "Allow",
      Action: ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
      Resource: [alarm],
    });
  });
});

describe("the plan's execution role and access", { timeout: 600_000 }, () => {
  it("the owner stack declares the role in every role, trusted by Region switch for this account", async () => {
    for (const [stack, role] of STACK_ROLES) {
      const r = await run(stack, role);
      const roles = r.ofType(ROLE).filter((x) => x.inputs.name === "acme-dr-region-switch");
      expect(roles.length, `${stack}/${role}`).toBe(stack === "primary" ? 1 : 0);
    }
    const r = await run("primary", "fenced");
    const role = r.one(ROLE, "acme-dr-use1-rs-exec");
    expect(role.state.arn).toBe(EXEC_ROLE_ARN);
    expect(JSON.parse(role.inputs.assumeRolePolicy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          // https://docs.aws.amazon.com/r53recovery/latest/dg/security_iam_region_switch_trust_policy.html
          Principal: { Service: "arc-region-switch.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: { StringEqualsIfExists: { "aws:SourceAccount": "111122223333" } },
        },
      ],
    });
    const policy = JSON.parse(
      r.one("aws:iam/rolePolicy:RolePolicy", "acme-dr-use1-rs-exec").inputs.policy,
    );
    const bySid = Object.fromEntries(policy.Statement.map((s: any) => [s.Sid, s]));
    expect(Object.keys(bySid)).toEqual([
      "PromoteReplica",
      "InvokeStepFunctions",
      "DescribeClusters",
      "ReadAccessEntries",
      "ReadFailoverRecords",
      "WriteReports",
      "EncryptReports0",
      "EncryptReports1",
    ]);
    expect(bySid.PromoteReplica.Resource).toEqual([
      "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg",
      "arn:aws:rds:us-west-2:111122223333:db:acme-dr-usw2-pg",
    ]);
    expect(bySid.InvokeStepFunctions).toEqual({
      Sid: "InvokeStepFunctions",
      Effect: "Allow",
      Action: ["lambda:GetFunction", "lambda:InvokeFunction"],
      Resource: [
        "arn:aws:lambda:us-east-1:111122223333:function:acme-dr-use1-rs-fence",
        "arn:aws:lambda:us-east-1:111122223333:function:acme-dr-use1-rs-check",
        "arn:aws:lambda:us-west-2:111122223333:function:acme-dr-usw2-rs-fence",
        "arn:aws:lambda:us-west-2:111122223333:function:acme-dr-usw2-rs-check",
      ],
    });
    expect(bySid.ReadAccessEntries.Resource).toEqual([
      "arn:aws:eks:us-east-1:111122223333:access-entry/acme-dr-use1/*",
      "arn:aws:eks:us-west-2:111122223333:access-entry/acme-dr-usw2/*",
    ]);
    expect(bySid.ReadFailoverRecords.Resource).toEqual([
      "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ",
    ]);
    expect(bySid.WriteReports.Resource).toEqual([
      "arn:aws:s3:::acme-dr-use1-backups-111122223333/reports/region-switch/*",
      "arn:aws:s3:::acme-dr-usw2-backups-111122223333/reports/region-switch/*",
    ]);
    expect(bySid.EncryptReports1).toEqual({
      Sid: "EncryptReports1",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Encrypt"],
      Resource: ["arn:aws:kms:us-west-2:111122223333:key/*"],
      Condition: {
        StringEquals: { "kms:ViaService": "s3.us-west-2.amazonaws.com" },
        "ForAnyValue:StringEquals": { "kms:ResourceAliases": ["alias/acme-dr-usw2"] },
      },
    });
    // Nothing deletes and nothing is granted on everything.
    const actions = policy.Statement.flatMap((s: any) => s.Action as string[]);
    expect(actions.filter((a: string) => /Delete|\*/.test(a))).toEqual([]);
    expect(policy.Statement.flatMap((s: any) => s.Resource)).not.toContain("*");
  });

  it("every stack, in every role, gives the role AWS's scaling access policy on the applications' namespace", async () => {
    for (const [stack, role] of STACK_ROLES) {
      const r = await run(stack, role);
      const site = stack === "primary" ? "use1" : "usw2";
      const region = stack === "primary" ? "us-east-1" : "us-west-2";
      expect(r.one(ACCESS, `acme-dr-${site}-rs-access`).inputs, `${stack}/${role}`).toEqual({
        region,
        clusterName: `acme-dr-${site}`,
        principalArn: EXEC_ROLE_ARN,
        type: "STANDARD",
        tags: { "dr-stack:project": "acme-dr", "dr-stack:site": site },
      });
      // https://docs.aws.amazon.com/r53recovery/latest/dg/eks-resource-scaling-block.html
      expect(r.one(ASSOCIATION, `acme-dr-${site}-rs-access`).inputs).toEqual({
        region,
        clusterName: `acme-dr-${site}`,
        principalArn: EXEC_ROLE_ARN,
        policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonARCRegionSwitchScalingPolicy",
        accessScope: { type: "namespace", namespaces: ["app"] },
      });
    }
  });
});

describe("the fence and check functions of each site", { timeout: 600_000 }, () => {
  it("every stack declares both in its own region and VPC, the same in every role", async () => {
    for (const stack of ["primary", "dr"] as const) {
      const site = stack === "primary" ? "use1" : "usw2";
      const region = stack === "primary" ? "us-east-1" : "us-west-2";
      const roles = STACK_ROLES.filter(([s]) => s === stack).map(([, role]) => role);
      const first = await run(stack, roles[0]);
      // The plan's functions (the stack has others, such as the point-in-time test's cleanup).
      const fns = first.ofType(FUNCTION).filter((f) => /-rs-/.test(String(f.inputs.name)));
      expect(fns.map((f) => f.inputs.name)).toEqual([
        `acme-dr-${site}-rs-fence`,
        `acme-dr-${site}-rs-check`,
      ]);
      for (const f of fns) {
        expect(f.inputs).toMatchObject({
          region,
          runtime: "nodejs22.x",
          handler: "index.handler",
          memorySize: 256,
          vpcConfig: {
            subnetIds: first.outputs.privateSubnetIds,
            securityGroupIds: [
              first.one("aws:eks/cluster:Cluster").state.vpcConfig.clusterSecurityGroupId,
            ],
          },
          environment: {
            variables: {
              DB_HOST: first.outputs.dbEndpoint,
              DB_PORT: "5432",
              DB_NAME: "app",
              DB_SECRET_ID: `acme-dr-${site}/db/master`,
              SMOKE_SQL: "[]",
              NODE_EXTRA_CA_CERTS: "/var/runtime/ca-cert.pem",
            },
          },
        });
      }
      expect(fns.map((f) => f.inputs.timeout)).toEqual([30, 90]);
      for (const role of roles.slice(1)) {
        const other = (await run(stack, role))
          .ofType(FUNCTION)
          .filter((f) => /-rs-/.test(String(f.inputs.name)));
        expect(
          other.map((f) => f.inputs),
          `${stack}/${role}`,
        ).toEqual(fns.map((f) => f.inputs));
      }
    }
  });

  it("their role reads only the site's own master secret, decrypted through Secrets Manager", async () => {
    const r = await run("dr", "standby");
    const policy = JSON.parse(
      r.one("aws:iam/rolePolicy:RolePolicy", "acme-dr-usw2-rs-secret").inputs.policy,
    );
    expect(policy.Statement).toEqual([
      {
        Sid: "ReadMasterSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [
          "arn:aws:secretsmanager:us-west-2:111122223333:secret:acme-dr-usw2/db/master-??????",
        ],
      },
      {
        Sid: "DecryptMasterSecret",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: [r.outputs.kmsKeyArn],
        Condition: { StringEquals: { "kms:ViaService": "secretsmanager.us-west-2.amazonaws.com" } },
      },
    ]);
  });
});

describe("no pulumi up asks Region switch anything", { timeout: 600_000 }, () => {
  it("no stack in any role invokes a Region switch data source (ListRoute53HealthChecks and the like)", async () => {
    for (const [stack, role] of STACK_ROLES) {
      const r = await run(stack, role);
      expect(
        r.invokes.filter((i) => i.token.startsWith("aws:arcregionswitch/")).map((i) => i.token),
        `${stack}/${role}`,
      ).toEqual([]);
    }
  });
});
