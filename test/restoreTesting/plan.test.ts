import { describe, expect, it } from "vitest";
import { RESTORE_TEST_METRICS as DRCTL_RESTORE_TEST_METRICS } from "../../drctl/src/commands/restoreTest";
import { RESTORE_TEST_METRICS } from "../../components/restoreTesting/alarms";
import {
  restoreMetadataOverrides,
  restoreTestingArgsProblems,
  restoreTestingPlanName,
} from "../../components/restoreTesting/plan";
import { runStack, STACK_ROLES, type StackRun } from "../harness";

const USE1_DB = "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg";
const ROLES = STACK_ROLES;

const plans = (run: StackRun) =>
  run.ofType("aws:backup/restoreTestingPlan:RestoreTestingPlan").map((p) => p.inputs);

describe("restore testing plans: monthly, over this site's vault, in every role", () => {
  it("tests the latest snapshot on the 3rd and a random one of the year on the 17th", async () => {
    const run = await runStack("primary");
    const tags = { "dr-stack:site": "use1", "dr-stack:project": "acme-dr" };
    const vault = "arn:aws:backup:us-east-1:111122223333:backup-vault:acme-dr-use1-vault";
    expect(plans(run)).toEqual([
      {
        region: "us-east-1",
        name: "acme_dr_use1_latest",
        scheduleExpression: "cron(0 8 3 * ? *)",
        scheduleExpressionTimezone: "Etc/UTC",
        startWindowHours: 4,
        recoveryPointSelection: {
          algorithm: "LATEST_WITHIN_WINDOW",
          includeVaults: [vault],
          recoveryPointTypes: ["SNAPSHOT"],
          selectionWindowDays: 7,
        },
        tags,
      },
      {
        region: "us-east-1",
        name: "acme_dr_use1_random",
        scheduleExpression: "cron(0 8 17 * ? *)",
        scheduleExpressionTimezone: "Etc/UTC",
        startWindowHours: 4,
        recoveryPointSelection: {
          algorithm: "RANDOM_WITHIN_WINDOW",
          includeVaults: [vault],
          recoveryPointTypes: ["SNAPSHOT"],
          selectionWindowDays: 365,
        },
        tags,
      },
    ]);
  });

  it("selects both sites' databases, restores into this site's subnets and group, keeps it 8 h", async () => {
    const run = await runStack("primary");
    const subnetGroup = run.one(
      "aws:rds/subnetGroup:SubnetGroup",
      "acme-dr-use1-restore-test-subnets",
    );
    const sg = run.one("aws:ec2/securityGroup:SecurityGroup", "acme-dr-use1-restore-test-sg");
    const role = run.one("aws:iam/role:Role", "acme-dr-use1-restore-test-role");
    const attachment = run.one(
      "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
      "acme-dr-use1-restore-test-restores",
    );
    const selections = run.ofType("aws:backup/restoreTestingSelection:RestoreTestingSelection");
    expect(selections.map((s) => s.inputs)).toEqual(
      ["acme_dr_use1_latest", "acme_dr_use1_random"].map((plan) => ({
        region: "us-east-1",
        name: "rds_instances",
        restoreTestingPlanName: plan,
        protectedResourceType: "RDS",
        protectedResourceArns: ["*"],
        iamRoleArn: `arn:aws:iam::111122223333:role/${role.id}`,
        validationWindowHours: 8,
        restoreMetadataOverrides: {
          dbSubnetGroupName: subnetGroup.id,
          vpcSecurityGroupIds: `["${sg.id}"]`,
        },
      })),
    );
    // The role must carry the restores policy before AWS Backup first assumes it.
    for (const s of selections) expect(s.dependsOn).toContain(attachment.urn);
    expect(subnetGroup.inputs.subnetIds).toEqual(run.outputs.privateSubnetIds);
  });

  it("lets only the cluster's nodes reach a restored copy, on 5432, and nothing out", async () => {
    const run = await runStack("primary");
    const sg = run.one("aws:ec2/securityGroup:SecurityGroup", "acme-dr-use1-restore-test-sg");
    expect(sg.inputs.vpcId).toBe(run.outputs.vpcId);
    expect(sg.inputs.ingress).toBeUndefined();
    expect(sg.inputs.egress).toBeUndefined();
    const rules = run
      .ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
      .filter((r) => r.inputs.securityGroupId === sg.id);
    // The same group the live database admits: the cluster's (its id is computed by EKS).
    const dbRule = run.one(
      "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
      "acme-dr-use1-db-from-nodes",
    );
    expect(dbRule.inputs.referencedSecurityGroupId).toMatch(/^sg-/);
    expect(rules.map((r) => r.inputs)).toEqual([
      {
        region: "us-east-1",
        securityGroupId: sg.id,
        referencedSecurityGroupId: dbRule.inputs.referencedSecurityGroupId,
        ipProtocol: "tcp",
        fromPort: 5432,
        toPort: 5432,
        description: "drctl restore-test from the EKS nodes",
        tags: { "dr-stack:site": "use1", "dr-stack:project": "acme-dr" },
      },
    ]);
    expect(
      run
        .ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        .filter((r) => r.inputs.securityGroupId === sg.id),
    ).toEqual([]);
  });

  it("trusts AWS Backup of this account only, with AWS's restores policy", async () => {
    const run = await runStack("dr");
    const role = run.one("aws:iam/role:Role", "acme-dr-usw2-restore-test-role");
    expect(JSON.parse(role.inputs.assumeRolePolicy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "backup.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: { StringEqualsIfExists: { "aws:SourceAccount": "111122223333" } },
        },
      ],
    });
    expect(
      run.one(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "acme-dr-usw2-restore-test-restores",
      ).inputs,
    ).toEqual({
      role: role.id,
      policyArn: "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    });
  });

  it("registers the same plans, selections, IAM and alarms in every role of both stacks", async () => {
    const shapes = new Map<string, string>();
    for (const [stack, role] of ROLES) {
      const run = await runStack(stack, { role });
      const site = stack === "primary" ? "use1" : "usw2";
      const region = stack === "primary" ? "us-east-1" : "us-west-2";
      const restoreTesting = [
        ...plans(run),
        ...run
          .ofType("aws:backup/restoreTestingSelection:RestoreTestingSelection")
          .map((s) => s.inputs),
      ];
      expect(restoreTesting, `${stack} ${role}`).toHaveLength(4);
      for (const r of restoreTesting) expect(r.region).toBe(region);
      expect(plans(run).map((p) => p.recoveryPointSelection.includeVaults)).toEqual([
        [`arn:aws:backup:${region}:111122223333:backup-vault:acme-dr-${site}-vault`],
        [`arn:aws:backup:${region}:111122223333:backup-vault:acme-dr-${site}-vault`],
      ]);
      for (const name of ["restore-test-role", "restore-check-irsa"]) {
        expect(run.ofType("aws:iam/role:Role").map((r) => r.name)).toContain(
          `acme-dr-${site}-${name}`,
        );
      }
      const alarms = run
        .ofType("aws:cloudwatch/metricAlarm:MetricAlarm")
        .filter((a) => a.name.includes("restore-alarms"));
      expect(alarms.map((a) => a.inputs.name)).toEqual([
        `acme-dr-${site}-restore-test-age`,
        `acme-dr-${site}-restore-test-failed`,
      ]);
      for (const a of alarms) expect(a.inputs.actionsEnabled).toBe(role !== "fenced");
      const cron = run
        .ofType("kubernetes:batch/v1:CronJob")
        .find((c) => c.inputs.metadata.name === "restore-test");
      expect(cron?.inputs.spec.suspend, `${stack} ${role}`).toBe(role === "fenced");
      // Nothing of restore testing follows the role but the CronJob's suspend flag and the
      // alarms' actions: the IAM and the plans are the same in every role (docs/architecture.md §2b).
      const strip = (x: Record<string, unknown>) => JSON.stringify(x);
      const shape = strip({
        restoreTesting,
        iam: run
          .ofType("aws:iam/rolePolicy:RolePolicy")
          .filter((p) => p.name.includes("restore-check"))
          .map((p) => p.inputs.policy),
      });
      const before = shapes.get(stack);
      if (before !== undefined) expect(shape, `${stack} ${role}`).toBe(before);
      shapes.set(stack, shape);
    }
  });
});

describe("the validation CronJob and its identity", () => {
  it("runs drctl restore-test hourly with the plans, the backup login and TLS verify-full", async () => {
    const run = await runStack("dr", { jobs: { smokeSql: ["select 1 from customers limit 1"] } });
    const cron = run
      .ofType("kubernetes:batch/v1:CronJob")
      .find((c) => c.inputs.metadata.name === "restore-test")!;
    expect(cron.inputs.metadata.namespace).toBe("dr-backup");
    expect(cron.inputs.spec).toMatchObject({
      schedule: "40 * * * *",
      timeZone: "Etc/UTC",
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: 1800,
    });
    const pod = cron.inputs.spec.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe("drctl-restore-test");
    const [container] = pod.containers;
    expect(container.args).toEqual(["restore-test"]);
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      AWS_REGION: "us-west-2",
      DRCTL_STORE: "s3://acme-dr-usw2-backups-111122223333/",
      DRCTL_METRICS_NAMESPACE: "DrStack/Backups",
      DRCTL_SMOKE_SQL: '["select 1 from customers limit 1"]',
      PGDATABASE: "app",
      PGSSLMODE: "verify-full",
      PGSSLROOTCERT: "/etc/drctl/rds-ca.pem",
    });
    // No secret: the check opens each copy with a password it sets there.
    expect(env.DRCTL_RESTORE_TEST_LOGIN).toBe("backup");
    expect(Object.keys(env).filter((k) => /SECRET/.test(k))).toEqual([]);
    expect(JSON.parse(env.DRCTL_RESTORE_TEST_PLAN_ARNS)).toEqual([
      expect.stringMatching(
        /^arn:aws:backup:us-west-2:111122223333:restore-testing-plan:acme_dr_usw2_latest-[0-9a-f-]+$/,
      ),
      expect.stringMatching(/:restore-testing-plan:acme_dr_usw2_random-/),
    ]);
    expect(run.outputs.restoreTestingPlanArns).toEqual(
      JSON.parse(env.DRCTL_RESTORE_TEST_PLAN_ARNS),
    );
    const sa = run
      .ofType("kubernetes:core/v1:ServiceAccount")
      .find((s) => s.inputs.metadata.name === "drctl-restore-test")!;
    const irsa = run.one("aws:iam/role:Role", "acme-dr-usw2-restore-check-irsa");
    expect(sa.inputs.metadata.annotations["eks.amazonaws.com/role-arn"]).toBe(
      `arn:aws:iam::111122223333:role/${irsa.id}`,
    );
    const trust = JSON.parse(irsa.inputs.assumeRolePolicy);
    expect(Object.values(trust.Statement[0].Condition.StringEquals)).toContain(
      "system:serviceaccount:dr-backup:drctl-restore-test",
    );
  });

  it("may touch only its own region, the restored copies, its report prefix and one namespace", async () => {
    const run = await runStack("dr");
    const policy = JSON.parse(
      run.one("aws:iam/rolePolicy:RolePolicy", "acme-dr-usw2-restore-check-irsa").inputs.policy,
    );
    const by = (sid: string) => policy.Statement.find((s: { Sid: string }) => s.Sid === sid);
    const text = JSON.stringify(policy);
    expect(by("DescribeRestoredInstances").Resource).toEqual([
      "arn:aws:rds:us-west-2:111122223333:db:awsbackup-restore-test-*",
    ]);
    // A restored copy holds its recovery point's passwords: the check sets the copy's master
    // password (ModifyDBInstance), on AWS Backup's restored copies only, and reads no secret.
    expect(by("SetRestoredCopiesMasterPassword")).toEqual({
      Sid: "SetRestoredCopiesMasterPassword",
      Effect: "Allow",
      Action: ["rds:ModifyDBInstance"],
      Resource: ["arn:aws:rds:us-west-2:111122223333:db:awsbackup-restore-test-*"],
    });
    expect(text).not.toContain("secretsmanager");
    expect(by("WriteAndReadReports")).toEqual({
      Sid: "WriteAndReadReports",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:GetObject"],
      Resource: ["arn:aws:s3:::acme-dr-usw2-backups-111122223333/reports/restore-tests/*"],
    });
    expect(by("PublishRestoreTestMetrics").Condition).toEqual({
      StringEquals: { "cloudwatch:namespace": "DrStack/Backups" },
    });
    // Statically stable (docs/architecture.md §2b): nothing in the peer region, and no delete of anything.
    expect(text).not.toContain("us-east-1");
    expect(text).not.toMatch(/Delete/);
  });
});

describe("restore test alarms read what drctl publishes", () => {
  it("pages after 35 days without a passing test, and on a failed one", async () => {
    const run = await runStack("primary");
    const alarm = (key: string) =>
      run.one("aws:cloudwatch/metricAlarm:MetricAlarm", `acme-dr-use1-restore-alarms-${key}`)
        .inputs;
    const topic = run.outputs.alarmTopicArn;
    expect(alarm("restore-test-age")).toMatchObject({
      region: "us-east-1",
      namespace: "DrStack/Backups",
      metricName: "RestoreTestLastSuccessAgeSeconds",
      statistic: "Maximum",
      period: 3600,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 35 * 86400,
      treatMissingData: "breaching",
      alarmActions: [topic],
      okActions: [topic],
    });
    expect(alarm("restore-test-failed")).toMatchObject({
      metricName: "RestoreTestSuccess",
      statistic: "Minimum",
      period: 3600,
      evaluationPeriods: 1,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "ignore",
    });
  });

  it("uses the metric names drctl restore-test publishes", () => {
    expect(RESTORE_TEST_METRICS).toEqual({
      success: DRCTL_RESTORE_TEST_METRICS.success.name,
      lastSuccessAge: DRCTL_RESTORE_TEST_METRICS.lastSuccessAge.name,
    });
  });
});

describe("restore testing config", () => {
  it("passes configured schedules, windows, instance class and age through", async () => {
    const run = await runStack("primary", {
      restoreTesting: {
        latest: { schedule: "cron(30 9 5 * ? *)", windowDays: 3 },
        validationWindowHours: 24,
        instanceClass: "db.t4g.medium",
        maxAgeDays: 40,
      },
    });
    expect(plans(run)[0]).toMatchObject({
      scheduleExpression: "cron(30 9 5 * ? *)",
      recoveryPointSelection: { selectionWindowDays: 3 },
    });
    const selection = run.ofType("aws:backup/restoreTestingSelection:RestoreTestingSelection")[0];
    expect(selection.inputs.validationWindowHours).toBe(24);
    expect(selection.inputs.restoreMetadataOverrides.dbInstanceClass).toBe("db.t4g.medium");
    expect(
      run.one(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "acme-dr-use1-restore-alarms-restore-test-age",
      ).inputs.threshold,
    ).toBe(40 * 86400);
  });

  it("refuses values AWS Backup would refuse, naming the key", async () => {
    await expect(
      runStack("primary", { restoreTesting: { random: { windowDays: 400 } } }),
    ).rejects.toThrow("dr-stack:restoreTesting.random.windowDays:");
    await expect(
      runStack("primary", { restoreTesting: { validationWindowHours: 200 } }),
    ).rejects.toThrow("dr-stack:restoreTesting.validationWindowHours:");
    await expect(
      runStack("primary", { restoreTesting: { latest: { schedule: "0 8 3 * *" } } }),
    ).rejects.toThrow('dr-stack:restoreTesting.latest.schedule: malformed AWS cron "0 8 3 * *"');
    await expect(runStack("primary", { restoreTesting: { maxAgeDays: 30 } })).rejects.toThrow(
      "dr-stack:restoreTesting.maxAgeDays:",
    );
  });

  it("the component checks AWS's limits on its own args", () => {
    const base = {
      region: "us-east-1",
      accountId: "111122223333",
      namePrefix: "acme-dr-use1",
      vaultArns: ["arn:aws:backup:us-east-1:111122223333:backup-vault:acme-dr-use1-vault"],
      protectedResourceArns: [USE1_DB],
      vpcId: "vpc-1",
      subnetIds: ["subnet-1"],
      clientSecurityGroupId: "sg-1",
    };
    expect(restoreTestingArgsProblems(base)).toEqual([]);
    expect(
      restoreTestingArgsProblems({
        ...base,
        namePrefix: "a".repeat(45),
        protectedResourceArns: ["arn:aws:rds:us-east-1:111122223333:cluster:c1"],
        validationWindowHours: 0,
        tests: {
          latest: { schedule: "cron(0 8 3 * ? *)", windowDays: 0 },
          random: { schedule: "cron(0 8 17 * ? *)", windowDays: 365 },
        },
      }),
    ).toEqual([
      "[tests.latest.windowDays] must be a whole number from 1 to 365, got 0",
      `[namePrefix] gives the plan name "${"a".repeat(45)}_latest"; AWS allows 1-50 letters, digits and underscores`,
      `[namePrefix] gives the plan name "${"a".repeat(45)}_random"; AWS allows 1-50 letters, digits and underscores`,
      "[validationWindowHours] must be a whole number of hours from 1 to 168, got 0",
      '[protectedResourceArns] "arn:aws:rds:us-east-1:111122223333:cluster:c1" is not an RDS DB instance ARN',
    ]);
    expect(restoreTestingPlanName("acme-dr-usw2", "random")).toBe("acme_dr_usw2_random");
    // No KMS key: RestoreDBInstanceFromDBSnapshot has no KmsKeyId; the copy keeps the snapshot's.
    expect(restoreMetadataOverrides("grp", "sg-9")).toEqual({
      dbSubnetGroupName: "grp",
      vpcSecurityGroupIds: '["sg-9"]',
    });
  });
});
