import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  BackupClient,
  GetRestoreTestingPlanCommand,
  ListRestoreJobsCommand,
  PutRestoreValidationResultCommand,
  type RestoreJobsListMember,
} from "@aws-sdk/client-backup";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  DBInstanceNotFoundFault,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { FileStore } from "../../drctl/src/store";
import { checkRestoreTests, dbIdentifierOf } from "../../drctl/src/commands/restoreTest";
import { regionOfPlanArn, type RestoreTestAws } from "../../drctl/src/commands/restoreTestAws";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { drctl, plainErrors } from "../support/cli";
import { sql, startCluster } from "../support/postgres";

// AWS Backup, RDS and CloudWatch have no loopback server: drctl's calls are checked against the
// SDK's own command stream (aws-sdk-client-mock). The "restored instance" is a real PostgreSQL
// with an application's schema and the passwords of its recovery point, which drctl does not
// know; the mocked ModifyDBInstance sets the master's password on it, as RDS would.
const backup = mockClient(BackupClient);
const rds = mockClient(RDSClient);
const cw = mockClient(CloudWatchClient);
afterEach(() => {
  backup.reset();
  rds.reset();
  cw.reset();
});

const PLAN = "arn:aws:backup:us-west-2:111122223333:restore-testing-plan:acme_dr_usw2_latest-8f2b";
const SOURCE = "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg";
const RESTORED_ID = "awsbackup-restore-test-3c9f1d2e";
const RESTORED = `arn:aws:rds:us-west-2:111122223333:db:${RESTORED_ID}`;
/** The passwords in force at the recovery point: rotated since, known to nobody now. */
const MASTER_AT_SNAPSHOT = "master-pw-at-snapshot-4Kd";
const BACKUP_AT_SNAPSHOT = "backup-pw-at-snapshot-7Qz";

let cluster: LocalCluster;
/** The copy's password hashes at its recovery point, before any test ran. */
let MASTER_HASH: string;
let BACKUP_HASH: string;
let storeDir: string;

beforeAll(async () => {
  cluster = await startCluster();
  await sql(cluster, "postgres", "create database app");
  // What a restored copy of the application holds: the RDS master (CREATEROLE, not a superuser,
  // as on RDS), an owner role, a read-only backup login (the one the checks run as), tables with
  // constraints and row-level security.
  await sql(
    cluster,
    "app",
    `create role rdsmaster login createrole password '${MASTER_AT_SNAPSHOT}';
     create role app_owner;
     create role backup login password '${BACKUP_AT_SNAPSHOT}';
     grant pg_read_all_data to backup;
     create table customers (id bigint primary key, email text not null unique);
     create table orders (id bigint primary key, customer_id bigint not null references customers,
       total numeric(10,2) not null check (total >= 0));
     alter table orders owner to app_owner;
     alter table orders enable row level security;
     insert into customers values (1, 'ada@example.com'), (2, 'lin@example.com');
     insert into orders values (10, 1, 12.50), (11, 2, 99.00);`,
  );
  // Password authentication for the master and the backup login, as on RDS.
  const hba = join(cluster.dataDir, "pg_hba.conf");
  writeFileSync(
    hba,
    `host all rdsmaster,backup 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, "utf8")}`,
  );
  await sql(cluster, "postgres", "select pg_reload_conf()");
  const [hashes] = await sql<{ master: string; backup: string }>(
    cluster,
    "postgres",
    `select (select rolpassword from pg_authid where rolname = 'rdsmaster') as master,
            (select rolpassword from pg_authid where rolname = 'backup') as backup`,
  );
  MASTER_HASH = hashes.master;
  BACKUP_HASH = hashes.backup;
});

afterAll(async () => {
  await cluster?.destroy();
});

function freshStore(): string {
  storeDir = mkdtempSync(join(tmpdir(), "drctl-restore-test-"));
  return pathToFileURL(storeDir).toString();
}
afterEach(() => rmSync(storeDir, { recursive: true, force: true }));

const CREATED = new Date("2026-12-03T08:05:00Z");
function job(over: Partial<RestoreJobsListMember> = {}): RestoreJobsListMember {
  return {
    RestoreJobId: "a1b2c3d4-0000-4000-8000-000000000001",
    Status: "COMPLETED",
    CreatedResourceArn: RESTORED,
    SourceResourceArn: SOURCE,
    RecoveryPointArn: "arn:aws:rds:us-west-2:111122223333:snapshot:awsbackup:copyjob-7a1f",
    RecoveryPointCreationDate: new Date("2026-12-03T02:10:00Z"),
    CreationDate: CREATED,
    CompletionDate: new Date("2026-12-03T08:41:30Z"),
    CreatedBy: { RestoreTestingPlanArn: PLAN },
    ...over,
  };
}

/** The mocked AWS: `modify` false leaves the copy's master password as it was. */
function answer(jobs: RestoreJobsListMember[], { modify = true } = {}): void {
  backup.on(ListRestoreJobsCommand).resolves({ RestoreJobs: jobs });
  backup.on(PutRestoreValidationResultCommand).resolves({});
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: RESTORED_ID }).resolves({
    DBInstances: [
      {
        DBInstanceIdentifier: RESTORED_ID,
        DBInstanceStatus: "available",
        MasterUsername: "rdsmaster",
        PendingModifiedValues: {},
        Endpoint: { Address: "127.0.0.1", Port: cluster.port },
      },
    ],
  });
  rds.on(ModifyDBInstanceCommand).callsFake(async (input: { MasterUserPassword?: string }) => {
    if (modify && input.MasterUserPassword) {
      const pw = input.MasterUserPassword.replace(/'/g, "''");
      await sql(cluster, "postgres", `alter role rdsmaster password '${pw}'`);
    }
    return { DBInstance: { DBInstanceIdentifier: RESTORED_ID } };
  });
  cw.on(PutMetricDataCommand).resolves({});
}

function env(store: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    AWS_REGION: "us-west-2",
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "secret",
    DRCTL_STORE: store,
    DRCTL_RESTORE_TEST_PLAN_ARNS: JSON.stringify([PLAN]),
    DRCTL_SMOKE_SQL: JSON.stringify(["select id from customers where email = 'lin@example.com'"]),
    DRCTL_METRICS_NAMESPACE: "DrStack/Backups",
    PGDATABASE: "app",
    PGSSLMODE: "disable",
    ...extra,
  };
}

function reports(): Record<string, unknown>[] {
  const dir = join(storeDir, "reports", "restore-tests");
  return readdirSync(dir).map((f) => ({
    file: f,
    ...JSON.parse(readFileSync(join(dir, f), "utf8")),
  }));
}

const validations = () =>
  backup.commandCalls(PutRestoreValidationResultCommand).map((c) => c.args[0].input);
const metrics = () => cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);

describe("drctl restore-test validates what the restore testing plan restored", () => {
  it("opens a copy whose passwords predate a rotation, runs the smoke SQL as backup, records the report, then tells AWS Backup", async () => {
    const store = freshStore();
    answer([job()]);
    const before = Date.now();
    const r = await drctl(["restore-test"], env(store));
    expect(r.code, r.stderr).toBe(0);

    // The copy's master password is set (on the restored copy only, applied at once), and the
    // backup login gets a throwaway one there: neither is any production password.
    const [modify] = rds.commandCalls(ModifyDBInstanceCommand).map((c) => c.args[0].input);
    expect(modify).toEqual({
      DBInstanceIdentifier: RESTORED_ID,
      MasterUserPassword: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      ApplyImmediately: true,
    });
    const [changed] = await sql<{ master: boolean; backup: boolean }>(
      cluster,
      "postgres",
      `select (select rolpassword from pg_authid where rolname = 'rdsmaster') <> $1 as master,
              (select rolpassword from pg_authid where rolname = 'backup') <> $2 as backup`,
      [MASTER_HASH, BACKUP_HASH],
    );
    expect(changed).toEqual({ master: true, backup: true });

    // Only the plan's own jobs, from the last 192 h (validation windows are at most 168 h).
    const list = backup.commandCalls(ListRestoreJobsCommand)[0].args[0].input;
    expect(list.ByRestoreTestingPlanArn).toBe(PLAN);
    const lookback = before - list.ByCreatedAfter!.getTime();
    expect(lookback).toBeLessThanOrEqual(192 * 3600_000);
    expect(lookback).toBeGreaterThan(192 * 3600_000 - 60_000);

    expect(validations()).toEqual([
      {
        RestoreJobId: "a1b2c3d4-0000-4000-8000-000000000001",
        ValidationStatus: "SUCCESSFUL",
        ValidationStatusMessage:
          "drctl restore-test: connected as backup, 2 table(s), 1 smoke query returned rows",
      },
    ]);
    expect(reports()).toEqual([
      expect.objectContaining({
        file: "2026-12-03-a1b2c3d4-0000-4000-8000-000000000001.json",
        kind: "restore-test",
        planArn: PLAN,
        sourceResourceArn: SOURCE,
        restoredResourceArn: RESTORED,
        recoveryPointCreatedAt: "2026-12-03T02:10:00.000Z",
        restoreCompletedAt: "2026-12-03T08:41:30.000Z",
        restoreSeconds: 2190,
        passed: true,
        tables: 2,
        smoke: [
          {
            sql: "select id from customers where email = 'lin@example.com'",
            rows: 1,
            passed: true,
          },
        ],
      }),
    ]);
    const [put] = metrics();
    expect(put.Namespace).toBe("DrStack/Backups");
    expect(put.MetricData?.[0]).toEqual({
      MetricName: "RestoreTestSuccess",
      Unit: "Count",
      Value: 1,
    });
    expect(put.MetricData?.[1]).toMatchObject({
      MetricName: "RestoreTestLastSuccessAgeSeconds",
      Unit: "Seconds",
    });
    expect(put.MetricData?.[1].Value).toBeLessThan(60);
    expect(r.stdout).toContain("PASSED a1b2c3d4-0000-4000-8000-000000000001");
  });

  it("fails the test (exit 2) when a smoke query returns no rows, and says which", async () => {
    const store = freshStore();
    answer([job()]);
    const r = await drctl(
      ["restore-test", "--smoke-sql", "select 1 from orders where total > 1000"],
      env(store),
    );
    expect(r.code).toBe(2);
    expect(validations()).toEqual([
      expect.objectContaining({
        ValidationStatus: "FAILED",
        ValidationStatusMessage:
          'drctl restore-test: 1 of 1 smoke query failed: "select 1 from orders where total > 1000" returned no rows',
      }),
    ]);
    expect(metrics()[0].MetricData).toEqual([
      { MetricName: "RestoreTestSuccess", Unit: "Count", Value: 0 },
    ]);
    expect(plainErrors(r.stderr).at(-1)).toMatch(/^drctl restore-test: 1 restore test\(s\) failed/);
  });

  it("fails the test, saying as whom, when the new master password does not open the copy", async () => {
    const store = freshStore();
    answer([job()], { modify: false });
    const r = await drctl(["restore-test"], env(store));
    expect(r.code).toBe(2);
    expect(validations()[0].ValidationStatus).toBe("FAILED");
    expect(validations()[0].ValidationStatusMessage).toMatch(
      /^drctl restore-test: restored instance 127\.0\.0\.1:\d+\/app: authentication failed.*\(as the master rdsmaster, giving backup a throwaway password\)$/,
    );
  });

  it("fails the test, naming the permission, when RDS refuses the master password change", async () => {
    const store = freshStore();
    answer([job()]);
    rds
      .on(ModifyDBInstanceCommand)
      .rejects(Object.assign(new Error("not authorized"), { name: "AccessDenied" }));
    const r = await drctl(["restore-test"], env(store));
    expect(r.code).toBe(2);
    expect(validations()[0].ValidationStatusMessage).toBe(
      `drctl restore-test: setting the master password of restored instance ${RESTORED_ID}: ` +
        `access denied; grant rds:ModifyDBInstance to the job's role`,
    );
  });

  it("leaves a copy whose new master password is not applied in time to a later run", async () => {
    const store = new FileStore(freshStore(), storeDir);
    const calls: string[] = [];
    let describes = 0;
    const aws: RestoreTestAws = {
      listRestoreJobs: () =>
        Promise.resolve([
          {
            restoreJobId: "j-1",
            status: "COMPLETED",
            createdResourceArn: RESTORED,
            sourceResourceArn: SOURCE,
            creationDate: CREATED,
          },
        ]),
      planCreatedAt: () => Promise.resolve(undefined),
      describeDbInstance: () => {
        describes++;
        // Available before the change; then RDS resets the credentials for longer than allowed.
        return Promise.resolve(
          describes === 1
            ? { status: "available", address: "127.0.0.1", passwordPending: false }
            : {
                status: "resetting-master-credentials",
                address: "127.0.0.1",
                passwordPending: true,
              },
        );
      },
      setMasterPassword: (id) => {
        calls.push(`modify ${id}`);
        return Promise.resolve();
      },
      putValidationResult: (id, status) => {
        calls.push(`validate ${id} ${status}`);
        return Promise.resolve();
      },
      putMetrics: () => Promise.resolve(),
      destroy: () => undefined,
    };
    const slept: number[] = [];
    let clock = Date.parse("2026-12-03T09:00:00Z");
    const run = await checkRestoreTests({
      planArns: [PLAN],
      store,
      aws,
      login: "backup",
      modifyTimeoutMs: 60_000,
      pollMs: 20_000,
      sleep: (ms) => {
        slept.push(ms);
        clock += ms;
        return Promise.resolve();
      },
      now: () => new Date(clock),
      database: "app",
      smokeSql: [],
      env: { PGSSLMODE: "disable" },
      sink: () => undefined,
    });
    expect(calls).toEqual([`modify ${RESTORED_ID}`]);
    expect(run.finished).toEqual([]);
    expect(run.waiting).toEqual([
      {
        restoreJobId: "j-1",
        reason:
          `the new master password of ${RESTORED_ID} was not applied within 60 s ` +
          `(status resetting-master-credentials); a later run sets another`,
      },
    ]);
    // It polled every 20 s until its 60 s deadline, not once and not forever.
    expect(slept).toEqual([20_000, 20_000, 20_000]);
  });

  it("records a restore AWS could not do as a failed test, once, without a validation call", async () => {
    const store = freshStore();
    answer([job({ Status: "FAILED", StatusMessage: "DB subnet group not found" })]);
    const first = await drctl(["restore-test"], env(store));
    expect(first.code).toBe(2);
    expect(validations()).toEqual([]);
    expect(reports()).toEqual([
      expect.objectContaining({
        passed: false,
        reason: "restore FAILED: DB subnet group not found",
      }),
    ]);
    const second = await drctl(["restore-test"], env(store));
    expect(second.code).toBe(0);
    expect(reports()).toHaveLength(1);
  });

  it("counts a restore nobody validated within its window as a failed test", async () => {
    const store = freshStore();
    answer([job({ ValidationStatus: "TIMED_OUT" })]);
    const r = await drctl(["restore-test"], env(store));
    expect(r.code).toBe(2);
    expect(validations()).toEqual([]);
    expect(reports()).toEqual([
      expect.objectContaining({
        passed: false,
        reason:
          "the validation window closed before drctl restore-test validated the restored copy",
      }),
    ]);
  });

  it("leaves running, unavailable, validated and deleting jobs alone", async () => {
    const store = freshStore();
    answer([
      job({ RestoreJobId: "j-running", Status: "RUNNING" }),
      job({ RestoreJobId: "j-done", ValidationStatus: "SUCCESSFUL" }),
      job({ RestoreJobId: "j-deleting", DeletionStatus: "DELETING" }),
    ]);
    const r = await drctl(["restore-test", "--json"], env(store));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      finished: [],
      waiting: [{ restoreJobId: "j-running", reason: "restore running" }],
    });
    expect(validations()).toEqual([]);
    // Nothing passed on record: no age to publish, and the age alarm treats that as breaching.
    expect(metrics()).toEqual([]);

    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceStatus: "modifying", Endpoint: { Address: "127.0.0.1" } }],
    });
    backup.on(ListRestoreJobsCommand).resolves({ RestoreJobs: [job()] });
    const later = await drctl(["restore-test", "--json"], env(store));
    expect(JSON.parse(later.stdout).waiting).toEqual([
      {
        restoreJobId: "a1b2c3d4-0000-4000-8000-000000000001",
        reason: `instance ${RESTORED_ID} is modifying`,
      },
    ]);
  });

  it("fails, once a month, a plan older than 32 days that started no restore job in 32 days", async () => {
    const store = freshStore();
    answer([]);
    backup
      .on(GetRestoreTestingPlanCommand, { RestoreTestingPlanName: "acme_dr_usw2_latest" })
      .resolves({
        RestoreTestingPlan: {
          RestoreTestingPlanName: "acme_dr_usw2_latest",
          CreationTime: new Date(Date.now() - 90 * 86400_000),
          RecoveryPointSelection: undefined,
          ScheduleExpression: "cron(0 8 3 * ? *)",
        } as never,
      });
    const r = await drctl(["restore-test"], env(store));
    expect(r.code).toBe(2);
    // The second lookup asks for the 32 days the finding is about.
    const lookups = backup.commandCalls(ListRestoreJobsCommand).map((c) => c.args[0].input);
    expect(lookups).toHaveLength(2);
    const days = (Date.now() - (lookups[1].ByCreatedAfter as Date).getTime()) / 86400_000;
    expect(Math.round(days)).toBe(32);
    const [report] = reports();
    expect(report.file).toBe(
      `${new Date().toISOString().slice(0, 7)}-acme_dr_usw2_latest-nothing-matched.json`,
    );
    expect(report.passed).toBe(false);
    expect(report.reason).toMatch(
      /^restore testing plan acme_dr_usw2_latest started no restore job in 32 days/,
    );
    expect(validations()).toEqual([]);
    // Once: the next hourly run finds the report and stays quiet.
    expect((await drctl(["restore-test"], env(store))).code).toBe(0);
    expect(reports()).toHaveLength(1);
  });

  it("validates a job whose validation window is open (VALIDATING is not a result)", async () => {
    const store = freshStore();
    answer([job({ ValidationStatus: "VALIDATING" })]);
    const r = await drctl(["restore-test", "--json"], env(store));
    expect(r.code).toBe(0);
    expect(validations()).toEqual([
      {
        RestoreJobId: "a1b2c3d4-0000-4000-8000-000000000001",
        ValidationStatus: "SUCCESSFUL",
        ValidationStatusMessage: expect.stringMatching(
          /^drctl restore-test: connected as backup, /,
        ),
      },
    ]);
    expect(reports()).toHaveLength(1);
  });

  it("publishes a recorded result the last run could not hand to AWS Backup, without reconnecting", async () => {
    const store = freshStore();
    answer([job()]);
    backup
      .on(PutRestoreValidationResultCommand)
      .rejects(Object.assign(new Error("throttled"), { name: "ThrottlingException" }));
    const first = await drctl(["restore-test"], env(store));
    expect(first.code).toBe(1);
    expect(reports()).toHaveLength(1);

    backup.on(PutRestoreValidationResultCommand).resolves({});
    rds.reset();
    const second = await drctl(["restore-test"], env(store));
    expect(second.code, second.stderr).toBe(0);
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toEqual([]);
    expect(validations().at(-1)?.ValidationStatus).toBe("SUCCESSFUL");
  });

  it("treats a restored instance RDS no longer has as a failed test", async () => {
    const store = freshStore();
    answer([job()]);
    rds
      .on(DescribeDBInstancesCommand)
      .rejects(new DBInstanceNotFoundFault({ message: "not found", $metadata: {} }));
    const r = await drctl(["restore-test"], env(store));
    expect(r.code).toBe(2);
    expect(validations()[0].ValidationStatusMessage).toBe(
      `drctl restore-test: restored instance ${RESTORED_ID} no longer exists`,
    );
  });
});

describe("drctl restore-test refuses what it cannot do safely", () => {
  it("asks for plan ARNs, and only of one region (the site's own)", async () => {
    const store = freshStore();
    const none = await drctl(["restore-test"], { DRCTL_STORE: store });
    expect(none.code).toBe(64);
    expect(plainErrors(none.stderr)[0]).toMatch(/needs --plan-arn arn:aws:backup:<region>/);
    const east = PLAN.replace("us-west-2", "us-east-1");
    const two = await drctl(["restore-test", "--plan-arn", PLAN, "--plan-arn", east], {
      DRCTL_STORE: store,
    });
    expect(two.code).toBe(64);
    expect(plainErrors(two.stderr)[0]).toContain("plan ARNs of one region (the site's own)");
  });

  it("reads regions and identifiers only from ARNs of the right shape", () => {
    expect(regionOfPlanArn(PLAN)).toBe("us-west-2");
    expect(regionOfPlanArn("arn:aws:backup:us-west-2:111122223333:backup-plan:x")).toBeUndefined();
    expect(dbIdentifierOf(RESTORED)).toBe(RESTORED_ID);
    expect(dbIdentifierOf("arn:aws:rds:us-west-2:111122223333:cluster:c1")).toBeUndefined();
  });
});
