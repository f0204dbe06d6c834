import { describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { PITR_METRICS } from "../../drctl/src/pitr/pitrTest";
import { RPO_METRICS as DRCTL_RPO_METRICS } from "../../drctl/src/commands/rpo";
import { RPO_METRICS } from "../../components/backups/rpoAlarms";
import { evaluate, type EvaluatedResource } from "../../policies/evaluate";
import { policies } from "../../policies/rules";
import { runStack, STACK_ROLES, type StackRun } from "../harness";

const cronJob = (run: StackRun, name: string): any => {
  const hit = run
    .ofType("kubernetes:batch/v1:CronJob")
    .find((c) => c.inputs.metadata.name === name);
  if (!hit) throw new Error(`no CronJob ${name}`);
  return hit.inputs;
};
const env = (cj: any): Record<string, unknown> =>
  Object.fromEntries(
    cj.spec.jobTemplate.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]),
  );
const policyOf = (run: StackRun, name: string) =>
  JSON.parse(run.one("aws:iam/rolePolicy:RolePolicy", name).inputs.policy as string);
const alarm = (run: StackRun, key: string) =>
  run
    .ofType("aws:cloudwatch/metricAlarm:MetricAlarm")
    .find((a) => a.inputs.name.endsWith(`-${key}`))?.inputs;

describe("the point-in-time layer is tested monthly and the data at risk measured, in every role", () => {
  it("registers both monthly tests, the monitor, their IAM and the alarms in every role of both stacks", async () => {
    for (const [stack, role] of STACK_ROLES) {
      const run = await runStack(stack, { role });
      const stem = stack === "primary" ? "acme-dr-use1" : "acme-dr-usw2";
      const peerDb =
        stack === "primary"
          ? "arn:aws:rds:us-west-2:111122223333:db:acme-dr-usw2-pg"
          : "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg";
      const latest = cronJob(run, "pitr-test-latest");
      const random = cronJob(run, "pitr-test-random");
      expect([latest.spec.schedule, random.spec.schedule], `${stack}/${role}`).toEqual([
        "0 6 5 * *",
        "0 6 19 * *",
      ]);
      expect(latest.spec.suspend, `${stack}/${role}`).toBe(role === "fenced");
      expect(latest.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual([
        "pitr-test",
        "--target",
        "latest",
      ]);
      expect(env(latest)).toMatchObject({
        DRCTL_PITR_INSTANCE: `${stem}-pg`,
        DRCTL_PITR_PEER_INSTANCE_ARN: peerDb,
        DRCTL_PITR_CLEANUP_FUNCTION: `${stem}-pg-pitr-cleanup`,
        PGSSLMODE: "verify-full",
      });
      const rpo = cronJob(run, "rpo");
      expect(rpo.spec.schedule).toBe("* * * * *");
      expect(rpo.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual(["rpo"]);

      // The job may restore and modify only its own copies, and delete nothing.
      const pitr = policyOf(run, `${stem}-pitr-test-irsa`);
      const actions = pitr.Statement.flatMap((s: any) => s.Action);
      expect(actions).toContain("rds:RestoreDBInstanceToPointInTime");
      expect(actions.some((a: string) => /Delete/.test(a))).toBe(false);
      const modify = pitr.Statement.find((s: any) => s.Sid === "SetTheCopiesMasterPassword");
      expect(modify.Resource).toEqual([
        `arn:aws:rds:${stack === "primary" ? "us-east-1" : "us-west-2"}:111122223333:db:${stem}-pg-pitr-*`,
      ]);
      // Only the cleanup function deletes, and only the copies.
      const cleanup = policyOf(run, `${stem}-pitr-test-cleanup`);
      expect(cleanup.Statement[0]).toMatchObject({
        Action: ["rds:DescribeDBInstances", "rds:DeleteDBInstance"],
        Resource: [expect.stringMatching(new RegExp(`:db:${stem}-pg-pitr-\\*$`))],
      });

      // Copy failures page where the copy jobs run (a primary's vault); the copies' age where
      // they land (a standby's vaults); the heartbeat and restorable age everywhere but fenced.
      expect(alarm(run, "copy-failed")).toMatchObject({
        namespace: "AWS/Backup",
        metricName: "NumberOfCopyJobsFailed",
        dimensions: { ResourceType: "RDS", BackupVaultName: `${stem}-vault` },
        actionsEnabled: role === "primary",
      });
      expect(alarm(run, "copy-age")?.actionsEnabled).toBe(role === "standby");
      expect(alarm(run, "heartbeat-rpo")).toMatchObject({
        metricName: "HeartbeatAgeSeconds",
        threshold: 60,
        treatMissingData: "breaching",
        actionsEnabled: role !== "fenced",
      });
      expect(alarm(run, "pitr-restorable-age")).toMatchObject({
        metricName: "PitrLatestRestorableAgeSeconds",
        threshold: 1800,
      });
      expect(alarm(run, "pitr-test-age")?.threshold).toBe(35 * 86400);
      expect(alarm(run, "pitr-test-failed")?.metricName).toBe("PitrTestSuccess");
      // The drill's scratch holds the configured database (100 GiB allocated): 125Gi by default.
      const scratch = Number(env(cronJob(run, "restore-drill")).DRCTL_SCRATCH_BYTES);
      expect(scratch).toBeGreaterThanOrEqual(100 * 2 ** 30);
      // The job-role rules of the policy pack still pass.
      const violations = (await evaluate(policies, run.resources as EvaluatedResource[])).filter(
        (v) => v.policyName.startsWith("dr-iam-role-job"),
      );
      expect(violations, `${stack}/${role}`).toEqual([]);
    }
  });

  it("tests and watches the air-gapped vault too when it is on", async () => {
    const run = await runStack("dr", {
      role: "standby",
      awsBackup: { airGappedVault: { enabled: true } },
    });
    const vaults = run
      .ofType("aws:backup/restoreTestingPlan:RestoreTestingPlan")
      .map((p) => p.inputs.recoveryPointSelection.includeVaults);
    const both = [
      "arn:aws:backup:us-west-2:111122223333:backup-vault:acme-dr-usw2-vault",
      "arn:aws:backup:us-west-2:111122223333:backup-vault:acme-dr-usw2-airgapped",
    ];
    expect(vaults).toEqual([both, both]);
    expect(env(cronJob(run, "rpo")).DRCTL_RPO_VAULTS).toBe(
      JSON.stringify(["acme-dr-usw2-vault", "acme-dr-usw2-airgapped"]),
    );
    expect(
      policyOf(run, "acme-dr-usw2-rpo-irsa").Statement.find((s: any) => s.Sid === "ListCopies")
        .Resource,
    ).toEqual(both);
  });

  it("refuses scratch IOPS that EBS would refuse for the scratch size", async () => {
    await expect(runStack("primary", { jobs: { drillScratchStorage: "8Gi" } })).rejects.toThrow(
      "[drillScratchPerformance.iops] 6000 IOPS need a volume of at least 12Gi (500 IOPS per GiB), " +
        "but drillScratchStorage is 8Gi; lower the IOPS or raise the size",
    );
  });

  it("names the metrics drctl publishes, one list on both sides", () => {
    expect(RPO_METRICS).toEqual({
      heartbeatAge: DRCTL_RPO_METRICS.heartbeatAge.name,
      pitrLatestRestorableAge: DRCTL_RPO_METRICS.pitrLatestRestorableAge.name,
      newestCopyAge: DRCTL_RPO_METRICS.newestCopyAge.name,
      pitrSuccess: PITR_METRICS.success.name,
      pitrLastSuccessAge: PITR_METRICS.lastSuccessAge.name,
    });
  });
});

describe("the cleanup function deletes test copies and nothing else", () => {
  // The handler runs on Lambda's Node.js runtime with the SDK v3 it ships; here with the RDS
  // client mocked at its command shapes.
  const rds = mockClient(RDSClient);
  const load = () => {
    const require = createRequire(join(process.cwd(), "package.json"));
    const path = require.resolve("./components/backups/pitrCleanup/index.js");
    delete require.cache[path];
    return require(path) as { handler: (e: unknown) => Promise<unknown> };
  };
  process.env.PITR_PREFIX = "acme-dr-usw2-pg-pitr";

  it("refuses an instance outside the prefix without calling RDS", async () => {
    rds.reset();
    await expect(load().handler({ identifier: "acme-dr-usw2-pg" })).rejects.toThrow(
      'refused: "acme-dr-usw2-pg" is not a point-in-time test instance (acme-dr-usw2-pg-pitr-…)',
    );
    expect(rds.calls()).toHaveLength(0);
  });

  it("refuses an untagged instance, and deletes a tagged one without a final snapshot", async () => {
    rds.reset();
    rds.on(DescribeDBInstancesCommand).resolvesOnce({
      DBInstances: [
        {
          DBInstanceIdentifier: "acme-dr-usw2-pg-pitr-1",
          DBInstanceStatus: "available",
          TagList: [],
        },
      ],
    });
    const { handler } = load();
    await expect(handler({ identifier: "acme-dr-usw2-pg-pitr-1" })).rejects.toThrow(
      "refused: acme-dr-usw2-pg-pitr-1 has no dr-stack:purpose=pitr-test tag",
    );
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: "acme-dr-usw2-pg-pitr-1",
          DBInstanceStatus: "available",
          TagList: [{ Key: "dr-stack:purpose", Value: "pitr-test" }],
        },
      ],
    });
    rds.on(DeleteDBInstanceCommand).resolves({});
    await expect(handler({ identifier: "acme-dr-usw2-pg-pitr-1" })).resolves.toEqual({
      identifier: "acme-dr-usw2-pg-pitr-1",
      result: "deleting",
    });
    expect(rds.commandCalls(DeleteDBInstanceCommand).map((c) => c.args[0].input)).toEqual([
      {
        DBInstanceIdentifier: "acme-dr-usw2-pg-pitr-1",
        SkipFinalSnapshot: true,
        DeleteAutomatedBackups: true,
      },
    ]);
  });
});
