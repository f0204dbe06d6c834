import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BackupClient, ListRecoveryPointsByBackupVaultCommand } from "@aws-sdk/client-backup";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { HEARTBEAT_TABLE_SQL } from "../../drctl/src/pitr/heartbeat";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { drctl } from "../support/cli";
import { sql, startCluster } from "../support/postgres";

// drctl rpo on a real PostgreSQL (the heartbeat) with RDS, AWS Backup and CloudWatch mocked at the
// SDK's command shapes.
const rds = mockClient(RDSClient);
const backup = mockClient(BackupClient);
const cw = mockClient(CloudWatchClient);
afterEach(() => {
  rds.reset();
  backup.reset();
  cw.reset();
});

const PEER = "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg";
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster();
  await sql(cluster, "postgres", "create database app");
  await sql(cluster, "app", HEARTBEAT_TABLE_SQL);
  await sql(
    cluster,
    "app",
    "insert into drstack.heartbeat values (clock_timestamp() - interval '42 seconds')",
  );
});
afterAll(async () => {
  await cluster?.destroy();
});

function env(): NodeJS.ProcessEnv {
  return {
    AWS_REGION: "us-west-2",
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "secret",
    DATABASE_URL: cluster.url("app"),
    DRCTL_PITR_INSTANCE: "acme-dr-usw2-pg",
    DRCTL_PITR_PEER_INSTANCE_ARN: PEER,
    DRCTL_RPO_VAULTS: JSON.stringify(["acme-dr-usw2-vault", "acme-dr-usw2-airgapped"]),
    DRCTL_METRICS_NAMESPACE: "DrStack/Backups",
  };
}

describe("drctl rpo publishes the data at risk in seconds", () => {
  it("publishes the heartbeat age, the replicated backups' restorable age and the newest copy's age", async () => {
    const now = Date.now();
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: "acme-dr-usw2-pg",
          ReadReplicaSourceDBInstanceIdentifier: PEER,
          BackupRetentionPeriod: 0,
        },
      ],
    });
    rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({
      DBInstanceAutomatedBackups: [
        {
          DBInstanceAutomatedBackupsArn: "arn:aws:rds:us-west-2:111122223333:auto-backup:ab-1",
          Status: "replicating",
          RestoreWindow: {
            EarliestTime: new Date(now - 7 * 86400_000),
            LatestTime: new Date(now - 600_000),
          },
        },
      ],
    });
    backup
      .on(ListRecoveryPointsByBackupVaultCommand, { BackupVaultName: "acme-dr-usw2-vault" })
      .resolves({
        RecoveryPoints: [
          // The vault's own backup (no source vault) is newer but is not a copy.
          {
            RecoveryPointArn: "arn:aws:rds:us-west-2:111122223333:snapshot:awsbackup:job-own",
            CreationDate: new Date(now - 60_000),
            Status: "COMPLETED",
          },
          {
            RecoveryPointArn: "arn:aws:rds:us-west-2:111122223333:snapshot:awsbackup:copyjob-1",
            SourceBackupVaultArn:
              "arn:aws:backup:us-east-1:111122223333:backup-vault:acme-dr-use1-vault",
            CreationDate: new Date(now - 3 * 3600_000),
            Status: "COMPLETED",
          },
        ],
      });
    backup
      .on(ListRecoveryPointsByBackupVaultCommand, { BackupVaultName: "acme-dr-usw2-airgapped" })
      .resolves({
        RecoveryPoints: [
          {
            RecoveryPointArn: "arn:aws:backup:us-west-2:111122223333:recovery-point:copy-2",
            SourceBackupVaultArn:
              "arn:aws:backup:us-east-1:111122223333:backup-vault:acme-dr-use1-vault",
            CreationDate: new Date(now - 2 * 3600_000),
            Status: "COMPLETED",
          },
          {
            RecoveryPointArn: "arn:aws:backup:us-west-2:111122223333:recovery-point:copy-3",
            SourceBackupVaultArn:
              "arn:aws:backup:us-east-1:111122223333:backup-vault:acme-dr-use1-vault",
            CreationDate: new Date(now - 600_000),
            Status: "PARTIAL",
          },
        ],
      });
    cw.on(PutMetricDataCommand).resolves({});
    const r = await drctl(["rpo", "--json"], env());
    expect(r.stderr).not.toContain("drctl rpo:");
    expect(r.code).toBe(0);
    const [put] = cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
    expect(put.Namespace).toBe("DrStack/Backups");
    const byName = Object.fromEntries((put.MetricData ?? []).map((d) => [d.MetricName, d.Value]));
    expect(byName.HeartbeatAgeSeconds).toBeGreaterThanOrEqual(42);
    expect(byName.HeartbeatAgeSeconds).toBeLessThan(52);
    expect(byName.PitrLatestRestorableAgeSeconds).toBeGreaterThanOrEqual(600);
    expect(byName.PitrLatestRestorableAgeSeconds).toBeLessThan(610);
    expect(byName.NewestCopyAgeSeconds).toBeGreaterThanOrEqual(7200);
    expect(byName.NewestCopyAgeSeconds).toBeLessThan(7210);
    expect(put.MetricData?.every((d) => d.Unit === "Seconds")).toBe(true);
  });

  it("prints the lost window from a failure time and the last heartbeat, publishing nothing", async () => {
    const [{ beat }] = await sql<{ beat: Date }>(
      cluster,
      "app",
      "select max(beat_at) as beat from drstack.heartbeat",
    );
    const failedAt = new Date(beat.getTime() + 37_500);
    const r = await drctl(["rpo", "--failed-at", failedAt.toISOString(), "--json"], env());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      lostWindow: { from: beat.toISOString(), to: failedAt.toISOString(), seconds: 37.5 },
    });
    expect(cw.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });

  it("exits 1 and says where the setup SQL is when the heartbeat table is missing, still publishing the rest", async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceIdentifier: "acme-dr-usw2-pg", BackupRetentionPeriod: 7 }],
    });
    rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({ DBInstanceAutomatedBackups: [] });
    backup.on(ListRecoveryPointsByBackupVaultCommand).resolves({ RecoveryPoints: [] });
    cw.on(PutMetricDataCommand).resolves({});
    const r = await drctl(["rpo"], { ...env(), DATABASE_URL: cluster.url("postgres") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('relation "drstack.heartbeat" does not exist');
    expect(r.stderr).toContain("docs/first-deployment.md");
    expect(r.stderr).toContain("no completed copy in acme-dr-usw2-vault, acme-dr-usw2-airgapped");
    expect(cw.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });
});
