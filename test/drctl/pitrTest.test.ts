import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pathToFileURL } from "node:url";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RestoreDBInstanceToPointInTimeCommand,
  type DBInstance,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { makeCtx } from "../../drctl/src/cli";
import { pitrTestCli } from "../../drctl/src/commands/pitrTest";
import { awsPitrPort } from "../../drctl/src/pitr/aws";
import { chooseRestoreTime, pitrTest, restoredIdentifier } from "../../drctl/src/pitr/pitrTest";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { openStore } from "../../drctl/src/store";
import { sql, startCluster } from "../support/postgres";

// RDS, Lambda and CloudWatch have no loopback server: drctl's calls are checked against the SDK's
// own command shapes (aws-sdk-client-mock). The "restored instance" is a real PostgreSQL whose
// master login only opens with the password drctl set through ModifyDBInstance (the mock applies
// it, as RDS does), and the store is a real directory.
const rds = mockClient(RDSClient);
const lambda = mockClient(LambdaClient);
const cw = mockClient(CloudWatchClient);

const REGION = "us-west-2";
const OWN = "acme-dr-usw2-pg";
const PEER_ARN = "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg";
const REPLICATED = "arn:aws:rds:us-west-2:111122223333:auto-backup:ab-7hjk2m4n6p8q0r2s4t6v8w0y2a";
const EARLIEST = new Date("2026-11-28T03:00:00Z");
const LATEST = new Date("2026-12-05T07:55:00Z");
const NOW = new Date("2026-12-05T08:00:00Z");
const BEAT = "2026-11-30T11:22:33.000Z";

let cluster: LocalCluster;
let storeDir: string;
let restored: { id?: string; status: string; pendingPassword: boolean };

beforeAll(async () => {
  cluster = await startCluster();
  await sql(cluster, "postgres", "create database app");
  await sql(
    cluster,
    "app",
    `create role pitr_master login createrole;
     create role backup login password 'the-password-of-last-month';
     grant pg_read_all_data to backup;
     create schema drstack;
     create table drstack.heartbeat (beat_at timestamptz not null);
     insert into drstack.heartbeat values ('${BEAT}');
     create table customers (id bigint primary key, email text not null unique);
     insert into customers values (1, 'ada@example.com');`,
  );
  const hba = join(cluster.dataDir, "pg_hba.conf");
  writeFileSync(
    hba,
    `host all pitr_master,backup 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, "utf8")}`,
  );
  await sql(cluster, "postgres", "select pg_reload_conf()");
});
afterAll(async () => {
  await cluster?.destroy();
});

beforeEach(() => {
  storeDir = mkdtempSync(join(tmpdir(), "drctl-pitr-test-"));
  restored = { status: "none", pendingPassword: false };
});
afterEach(() => {
  rds.reset();
  lambda.reset();
  cw.reset();
  rmSync(storeDir, { recursive: true, force: true });
});

function restoredInstance(): DBInstance {
  return {
    DBInstanceIdentifier: restored.id,
    DBInstanceStatus: restored.status,
    Endpoint: { Address: "127.0.0.1", Port: cluster.port },
    MasterUsername: "pitr_master",
    PendingModifiedValues: restored.pendingPassword ? { MasterUserPassword: "****" } : {},
  };
}

/** RDS as the tests need it: `own` is this site's instance, `becomes` the restored copy's status. */
function answer(o: { own: DBInstance; backups: boolean; becomes: string; leftovers?: string[] }) {
  rds.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier?: string }) => {
    if (input.DBInstanceIdentifier === undefined) {
      return {
        DBInstances: [
          { DBInstanceIdentifier: OWN, DBInstanceStatus: "available" },
          ...(o.leftovers ?? []).map((id) => ({
            DBInstanceIdentifier: id,
            DBInstanceStatus: "available",
          })),
        ],
      };
    }
    if (input.DBInstanceIdentifier === OWN) return { DBInstances: [o.own] };
    if (restored.id && input.DBInstanceIdentifier === restored.id) {
      return { DBInstances: [restoredInstance()] };
    }
    const e = new Error(`DBInstance ${input.DBInstanceIdentifier} not found.`);
    e.name = "DBInstanceNotFoundFault";
    throw e;
  });
  rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({
    DBInstanceAutomatedBackups: o.backups
      ? [
          {
            DBInstanceAutomatedBackupsArn: REPLICATED,
            DBInstanceArn: PEER_ARN,
            Status: "replicating",
            RestoreWindow: { EarliestTime: EARLIEST, LatestTime: LATEST },
          },
        ]
      : [],
  });
  rds
    .on(RestoreDBInstanceToPointInTimeCommand)
    .callsFake((input: { TargetDBInstanceIdentifier: string }) => {
      restored = {
        id: input.TargetDBInstanceIdentifier,
        status: o.becomes,
        pendingPassword: false,
      };
      return { DBInstance: restoredInstance() };
    });
  // What RDS does with MasterUserPassword: the master login's password changes, applied
  // immediately with ApplyImmediately (PendingModifiedValues empties once it is in force).
  rds.on(ModifyDBInstanceCommand).callsFake(async (input: { MasterUserPassword: string }) => {
    await sql(cluster, "postgres", `alter role pitr_master password '${input.MasterUserPassword}'`);
    return { DBInstance: restoredInstance() };
  });
  lambda.on(InvokeCommand).resolves({ StatusCode: 200 });
  cw.on(PutMetricDataCommand).resolves({});
}

const STANDBY: DBInstance = {
  DBInstanceIdentifier: OWN,
  DBInstanceArn: `arn:aws:rds:${REGION}:111122223333:db:${OWN}`,
  DBInstanceStatus: "available",
  ReadReplicaSourceDBInstanceIdentifier: PEER_ARN,
  BackupRetentionPeriod: 0,
};
const PRIMARY: DBInstance = {
  ...STANDBY,
  ReadReplicaSourceDBInstanceIdentifier: undefined,
  BackupRetentionPeriod: 7,
};

const ARGS = [
  "--instance",
  OWN,
  "--peer-instance-arn",
  PEER_ARN,
  "--subnet-group",
  "acme-dr-usw2-restore-test-subnets",
  "--security-group",
  "sg-0a1b2c3d4e5f60718",
  "--cleanup-function",
  "acme-dr-usw2-pitr-cleanup",
  "--database",
  "app",
  "--smoke-sql",
  "select id from customers where email = 'ada@example.com'",
];

async function run(argv: string[]): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  let out = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  const ctx = makeCtx({
    stdout,
    stderr: new PassThrough(),
    env: {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      DRCTL_STORE: pathToFileURL(storeDir).toString(),
      DRCTL_METRICS_NAMESPACE: "DrStack/Backups",
      PGSSLMODE: "disable",
    },
  });
  const code = await pitrTestCli(argv, ctx, undefined, { pollMs: 5, random: () => 0.5 });
  return { code, stdout: out };
}

function reports(): Record<string, unknown>[] {
  const dir = join(storeDir, "reports", "pitr-tests");
  return readdirSync(dir).map((f) => ({
    file: f,
    ...JSON.parse(readFileSync(join(dir, f), "utf8")),
  }));
}
const invoked = () =>
  lambda
    .commandCalls(InvokeCommand)
    .map((c) => JSON.parse(Buffer.from(c.args[0].input.Payload as Uint8Array).toString()));
const metrics = () => cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData);

describe("drctl pitr-test restores the point-in-time layer, checks it and deletes it", () => {
  it("on a standby, restores the peer's replicated backups found at run time, logs in with the password it set", async () => {
    answer({
      own: STANDBY,
      backups: true,
      becomes: "available",
      leftovers: [`${OWN}-pitr-202611051400`],
    });
    const { code, stdout } = await run(ARGS);
    expect(stdout).toMatch(/^PASSED /);
    expect(code).toBe(0);
    // The replicated backups are found by the peer instance's ARN in this region.
    // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstanceAutomatedBackups.html
    const lookup = rds.commandCalls(DescribeDBInstanceAutomatedBackupsCommand)[0].args[0].input;
    expect(lookup.Filters).toEqual([{ Name: "db-instance-id", Values: [PEER_ARN] }]);
    const restore = rds.commandCalls(RestoreDBInstanceToPointInTimeCommand)[0].args[0].input;
    expect(restore.SourceDBInstanceAutomatedBackupsArn).toBe(REPLICATED);
    expect(restore.SourceDBInstanceIdentifier).toBeUndefined();
    expect(restore.DBSubnetGroupName).toBe("acme-dr-usw2-restore-test-subnets");
    expect(restore.VpcSecurityGroupIds).toEqual(["sg-0a1b2c3d4e5f60718"]);
    expect(restore.PubliclyAccessible).toBe(false);
    expect(restore.BackupRetentionPeriod).toBe(0);
    expect(restore.Tags).toEqual([{ Key: "dr-stack:purpose", Value: "pitr-test" }]);
    // random() = 0.5: halfway between the earliest time and latest − 5 min.
    const expected = chooseRestoreTime("random", EARLIEST, LATEST, () => 0.5);
    expect(restore.RestoreTime).toEqual(expected);
    expect(expected.getTime()).toBe(
      EARLIEST.getTime() +
        Math.floor((LATEST.getTime() - 300_000 - EARLIEST.getTime()) / 2000) * 1000,
    );
    const modify = rds.commandCalls(ModifyDBInstanceCommand)[0].args[0].input;
    expect(modify.DBInstanceIdentifier).toBe(restore.TargetDBInstanceIdentifier);
    expect(modify.ApplyImmediately).toBe(true);
    expect(modify.MasterUserPassword).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The leftover of an earlier run first, then this run's copy.
    expect(invoked()).toEqual([
      { identifier: `${OWN}-pitr-202611051400` },
      { identifier: restore.TargetDBInstanceIdentifier },
    ]);
    const [r] = reports();
    expect(r).toMatchObject({
      passed: true,
      target: "random",
      source: { kind: "replicated", automatedBackupsArn: REPLICATED, of: PEER_ARN },
      window: { earliest: EARLIEST.toISOString(), latest: LATEST.toISOString() },
      restoreTime: expected.toISOString(),
      heartbeatAt: BEAT,
      tables: 2,
      leftoversDeleted: [`${OWN}-pitr-202611051400`],
    });
    expect(r.reason).toMatch(/^connected as backup, 2 table\(s\), 1 smoke query returned rows$/);
    expect(metrics()).toEqual([[{ MetricName: "PitrTestSuccess", Unit: "Count", Value: 1 }]]);
  });

  it("on a primary, restores its own instance to the latest restorable time minus 5 minutes", async () => {
    answer({ own: PRIMARY, backups: true, becomes: "available" });
    expect((await run([...ARGS, "--target", "latest"])).code).toBe(0);
    const restore = rds.commandCalls(RestoreDBInstanceToPointInTimeCommand)[0].args[0].input;
    expect(restore.SourceDBInstanceIdentifier).toBe(OWN);
    expect(restore.SourceDBInstanceAutomatedBackupsArn).toBeUndefined();
    expect(restore.RestoreTime).toEqual(new Date("2026-12-05T07:50:00Z"));
    const lookup = rds.commandCalls(DescribeDBInstanceAutomatedBackupsCommand)[0].args[0].input;
    expect(lookup.Filters).toEqual([{ Name: "db-instance-id", Values: [PRIMARY.DBInstanceArn] }]);
    expect(reports()[0]).toMatchObject({
      passed: true,
      source: { kind: "instance", instance: OWN },
    });
  });

  it("fails, restoring nothing, when no replicated automated backup exists in this region", async () => {
    answer({ own: STANDBY, backups: false, becomes: "available" });
    const { code, stdout } = await run(ARGS);
    expect(code).toBe(2);
    expect(rds.commandCalls(RestoreDBInstanceToPointInTimeCommand)).toHaveLength(0);
    expect(invoked()).toEqual([]);
    const [r] = reports();
    expect(r.passed).toBe(false);
    expect(r.reason).toContain(`no automated backups of ${PEER_ARN} are replicated into ${REGION}`);
    expect(stdout).toContain("FAILED (no restore)");
    expect(metrics()).toEqual([[{ MetricName: "PitrTestSuccess", Unit: "Count", Value: 0 }]]);
  });

  it("gives up on a restore that never becomes available, deletes it and reports the failure", async () => {
    answer({ own: STANDBY, backups: true, becomes: "creating" });
    const aws = await awsPitrPort(REGION, "acme-dr-usw2-pitr-cleanup");
    const started = Date.now();
    const { report, key } = await pitrTest({
      aws,
      store: openStore(pathToFileURL(storeDir).toString()),
      sink: () => undefined,
      env: { PGSSLMODE: "disable" },
      region: REGION,
      instance: OWN,
      peerInstanceArn: PEER_ARN,
      identifierPrefix: `${OWN}-pitr`,
      subnetGroup: "acme-dr-usw2-restore-test-subnets",
      securityGroupId: "sg-0a1b2c3d4e5f60718",
      target: "random",
      database: "app",
      login: "backup",
      smokeSql: [],
      restoreTimeoutMs: 300,
      modifyTimeoutMs: 300,
      pollMs: 20,
      now: () => NOW,
    });
    aws.destroy();
    expect(Date.now() - started).toBeLessThan(5_000);
    const id = restoredIdentifier(`${OWN}-pitr`, NOW);
    expect(id).toBe("acme-dr-usw2-pg-pitr-202612050800");
    expect(report.passed).toBe(false);
    expect(report.reason).toBe(
      `restored instance ${id} was not available within 0.3 s (last status: creating)`,
    );
    expect(report.cleanup).toBe(`deletion of ${id} requested`);
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
    expect(invoked()).toEqual([{ identifier: id }]);
    expect(key).toBe("reports/pitr-tests/2026-12-05-random.json");
    expect(reports()[0]).toMatchObject({ passed: false, restoredInstance: id });
  });
});
