import { describe, expect, it } from "vitest";
import { awsBackupArgsProblems, DEFAULT_BACKUP_RULES } from "../../components/backups/awsBackup";
import { runStack } from "../harness";

const PEER_VAULT = "arn:aws:backup:us-west-2:111122223333:backup-vault:acme-dr-usw2-vault";

describe("AWS Backup on the primary", () => {
  it("keeps a vault encrypted with the site key, retained if the stack goes", async () => {
    const run = await runStack("primary");
    const vault = run.one("aws:backup/vault:Vault");
    expect(vault.inputs).toEqual({
      region: "us-east-1",
      name: "acme-dr-use1-vault",
      kmsKeyArn: run.outputs.kmsKeyArn,
      tags: { "dr-stack:site": "use1", "dr-stack:project": "acme-dr" },
    });
    expect(vault.inputs.forceDestroy).toBeUndefined();
    expect(vault.retainOnDelete).toBe(true);
    expect(run.outputs.backupVaultArn).toBe(
      "arn:aws:backup:us-east-1:111122223333:backup-vault:acme-dr-use1-vault",
    );
  });

  it("has three rules with the default schedules and retentions, each copying to the peer vault", async () => {
    const run = await runStack("primary");
    const plan = run.one("aws:backup/plan:Plan");
    expect(plan.inputs.region).toBe("us-east-1");
    const rule = (ruleName: string, schedule: string, deleteAfter: number) => ({
      ruleName,
      targetVaultName: "acme-dr-use1-vault",
      schedule,
      scheduleExpressionTimezone: "Etc/UTC",
      startWindow: 60,
      completionWindow: 720,
      lifecycle: { deleteAfter },
      copyActions: [{ destinationVaultArn: PEER_VAULT, lifecycle: { deleteAfter } }],
      recoveryPointTags: {
        "dr-stack:site": "use1",
        "dr-stack:project": "acme-dr",
        "dr-stack:tier": ruleName,
      },
    });
    expect(plan.inputs.rules).toEqual([
      rule("daily", "cron(0 2 * * ? *)", 7),
      rule("weekly", "cron(0 3 ? * SUN *)", 28),
      rule("monthly", "cron(0 4 1 * ? *)", 365),
    ]);
  });

  it("selects the site's DB instance with a role that has the backup and restore managed policies", async () => {
    const run = await runStack("primary");
    const selection = run.one("aws:backup/selection:Selection");
    const plan = run.one("aws:backup/plan:Plan");
    const role = run.one("aws:iam/role:Role", "acme-dr-use1-vault-backup");
    expect(role.inputs.name).toBe("acme-dr-use1-aws-backup");
    expect(selection.inputs).toEqual({
      region: "us-east-1",
      name: "acme-dr-use1-vault-db",
      planId: plan.id,
      iamRoleArn: "arn:aws:iam::111122223333:role/acme-dr-use1-aws-backup",
      resources: ["arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg"],
    });
    // aws:SourceAccount against the confused deputy; AWS Backup documents no aws:SourceArn on
    // its role assumption. https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    expect(JSON.parse(role.inputs.assumeRolePolicy).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "backup.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEqualsIfExists: { "aws:SourceAccount": "111122223333" } },
      },
    ]);
    const attachments = run
      .ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
      .filter((a) => a.inputs.role === role.id);
    expect(attachments.map((a) => a.inputs.policyArn).sort()).toEqual([
      "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
      "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    ]);
    // The role must carry its policies before AWS Backup first assumes it.
    expect(selection.dependsOn).toEqual(expect.arrayContaining(attachments.map((a) => a.urn)));
  });

  it("passes configured cold storage to the rule and its copy alike", async () => {
    const run = await runStack("primary", {
      awsBackup: { monthly: { coldStorageAfterDays: 90, deleteAfterDays: 400 } },
    });
    const monthly = run
      .one("aws:backup/plan:Plan")
      .inputs.rules.find((r: { ruleName: string }) => r.ruleName === "monthly");
    expect(monthly.lifecycle).toEqual({ coldStorageAfter: 90, deleteAfter: 400 });
    expect(monthly.copyActions).toEqual([
      { destinationVaultArn: PEER_VAULT, lifecycle: { coldStorageAfter: 90, deleteAfter: 400 } },
    ]);
  });

  it("locks the vault by default with a 7-day grace period, changeable from config", async () => {
    const lockType = "aws:backup/vaultLockConfiguration:VaultLockConfiguration";
    expect((await runStack("primary")).one(lockType).inputs).toEqual({
      region: "us-east-1",
      backupVaultName: "acme-dr-use1-vault",
      changeableForDays: 7,
      minRetentionDays: 7,
      maxRetentionDays: 3650,
    });
    const run = await runStack("primary", { awsBackup: { vaultLock: { changeableForDays: 3 } } });
    expect(run.one(lockType).inputs.changeableForDays).toBe(3);
    const off = await runStack("primary", { awsBackup: { vaultLock: { enabled: false } } });
    expect(off.ofType(lockType)).toEqual([]);
  });

  it("denies deleting recovery points or shortening their lifecycle to everyone", async () => {
    const run = await runStack("primary");
    const policy = run.one("aws:backup/vaultPolicy:VaultPolicy");
    expect(policy.inputs.region).toBe("us-east-1");
    expect(policy.inputs.backupVaultName).toBe("acme-dr-use1-vault");
    // AWS Backup, "Vault access policies": deny backup:DeleteRecoveryPoint to "*"; the AWS Config
    // rule backup-recovery-point-manual-deletion-disabled wants UpdateRecoveryPointLifecycle too.
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html
    expect(JSON.parse(policy.inputs.policy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "DenyRecoveryPointDeletion",
          Effect: "Deny",
          Principal: "*",
          Action: ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"],
          Resource: "*",
        },
      ],
    });
    const glass = await runStack("primary", {
      breakGlassPrincipalArn: "arn:aws:iam::111122223333:role/break-glass",
    });
    expect(
      JSON.parse(glass.one("aws:backup/vaultPolicy:VaultPolicy").inputs.policy).Statement[0]
        .Condition,
    ).toEqual({
      ArnNotEquals: { "aws:PrincipalArn": "arn:aws:iam::111122223333:role/break-glass" },
    });
  });

  it("copies nothing into the peer's region while peerLinks is off (C1), the role staying", async () => {
    const run = await runStack("primary", { peerLinks: false });
    for (const rule of run.one("aws:backup/plan:Plan").inputs.rules) {
      expect(rule.copyActions).toEqual([]);
    }
    expect(run.one("aws:iam/role:Role", "acme-dr-use1-vault-backup").inputs.name).toBe(
      "acme-dr-use1-aws-backup",
    );
  });

  it("with an air-gapped vault, creates one per site and copies into the peer's", async () => {
    const run = await runStack("primary", { awsBackup: { airGappedVault: { enabled: true } } });
    expect(run.one("aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault").inputs).toEqual({
      region: "us-east-1",
      name: "acme-dr-use1-airgapped",
      minRetentionDays: 7,
      maxRetentionDays: 3650,
      tags: { "dr-stack:site": "use1", "dr-stack:project": "acme-dr" },
    });
    for (const rule of run.one("aws:backup/plan:Plan").inputs.rules) {
      expect(rule.copyActions[0].destinationVaultArn).toBe(
        "arn:aws:backup:us-west-2:111122223333:backup-vault:acme-dr-usw2-airgapped",
      );
    }
    await expect(
      runStack("primary", {
        awsBackup: { airGappedVault: { enabled: true, maxRetentionDays: 100 } },
      }),
    ).rejects.toThrow(
      "dr-stack:awsBackup.monthly.deleteAfterDays: monthly rule keeps recovery points 365 days, outside the air-gapped vault's 7-100 days",
    );
  });
});

describe("AWS Backup on the other roles", () => {
  it("keeps the vault (the peer's copies land in it) and the backup role: no plan, no selection", async () => {
    for (const [stack, role] of [
      ["dr", "standby"],
      ["dr", "promoting"],
      ["primary", "fenced"],
    ] as const) {
      const run = await runStack(stack, { role });
      expect(run.ofType("aws:backup/vault:Vault")).toHaveLength(1);
      expect(run.ofType("aws:backup/plan:Plan"), `${stack} ${role}`).toEqual([]);
      expect(run.ofType("aws:backup/selection:Selection")).toEqual([]);
      // Pre-provisioned (docs/architecture.md §2b): a promotion adds the plan, never the role.
      expect(
        run.ofType("aws:iam/role:Role").filter((r) => r.inputs.name?.endsWith("-aws-backup")),
      ).toHaveLength(1);
    }
  });

  it("the dr vault is the one the primary's copy actions name", async () => {
    const run = await runStack("dr");
    expect(run.outputs.backupVaultArn).toBe(PEER_VAULT);
    expect(run.one("aws:backup/vault:Vault").inputs.kmsKeyArn).toMatch(/^arn:aws:kms:us-west-2:/);
  });
});

describe("lifecycle arithmetic is a config error naming the rule", () => {
  const rejects = (awsBackup: Record<string, unknown>) => runStack("primary", { awsBackup });

  it("cold storage before 30 days", async () => {
    await expect(
      rejects({ weekly: { coldStorageAfterDays: 20, deleteAfterDays: 200 } }),
    ).rejects.toThrow(
      "dr-stack:awsBackup.weekly.coldStorageAfterDays: weekly rule moves to cold storage after 20 days; the minimum is 30",
    );
  });

  it("deleting before 90 days in cold storage", async () => {
    await expect(
      rejects({ monthly: { coldStorageAfterDays: 300, deleteAfterDays: 365 } }),
    ).rejects.toThrow(
      "dr-stack:awsBackup.monthly.deleteAfterDays: monthly rule deletes after 365 days but must keep cold copies 90 days: expected at least 390",
    );
  });

  it("retention under the tier's floor", async () => {
    await expect(rejects({ daily: { deleteAfterDays: 3 } })).rejects.toThrow(
      "dr-stack:awsBackup.daily.deleteAfterDays: daily rule must keep recovery points at least 7 days, got 3",
    );
  });

  it("a rule the locked vault would reject, and a lock with under 3 days of grace", async () => {
    await expect(
      rejects({ vaultLock: { changeableForDays: 3, minRetentionDays: 10 } }),
    ).rejects.toThrow(
      "dr-stack:awsBackup.daily.deleteAfterDays: daily rule keeps recovery points 7 days, outside the vault lock's 10-3650 days",
    );
    await expect(rejects({ vaultLock: { changeableForDays: 2 } })).rejects.toThrow(
      "dr-stack:awsBackup.vaultLock.changeableForDays:",
    );
  });

  it("the component checks the same arithmetic on its own args", () => {
    const base = {
      region: "us-east-1",
      accountId: "111122223333",
      vaultName: "v",
      roleName: "acme-dr-use1-aws-backup",
      kmsKeyArn: "k",
      copyTargetVaultArn: PEER_VAULT,
    };
    expect(awsBackupArgsProblems(base)).toEqual([]);
    expect(
      awsBackupArgsProblems({
        ...base,
        rules: {
          ...DEFAULT_BACKUP_RULES,
          weekly: {
            schedule: "cron(0 3 ? * SUN *)",
            deleteAfterDays: 100,
            coldStorageAfterDays: 14,
          },
        },
        vaultLock: { changeableForDays: 1 },
      }),
    ).toEqual([
      "[rules.weekly.coldStorageAfterDays] must be at least 30, got 14",
      "[rules.weekly.deleteAfterDays] must be at least coldStorageAfterDays + 90 (104), got 100",
      "[vaultLock.changeableForDays] must be at least 3 (AWS's minimum grace period), got 1",
    ]);
  });
});
