import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeReport, type DrillReport } from "../../drctl/src/commands/drill";
import type { RestoreTestReport } from "../../drctl/src/commands/restoreTest";
import { openStore, putBytes, type Store } from "../../drctl/src/store";
import { drctl } from "../support/cli";

const HOUR = 3_600_000;
let work: string;
let url: string;
let store: Store;

/** A drill report as drill.ts writes it, `hoursAgo` old. */
function drillReport(id: string, hoursAgo: number, failure?: DrillReport["failure"]): DrillReport {
  const finished = new Date(Date.now() - hoursAgo * HOUR);
  const started = new Date(finished.getTime() - 90_000);
  return {
    formatVersion: 1,
    drillId: id,
    reportKey: `reports/${started.toISOString().slice(0, 10)}-${id}.json`,
    store: url,
    drctlVersion: "0.1.0",
    backupId: "20261201T020000Z-a1b2c3",
    tier: "daily",
    requestedTier: null,
    backupSnapshotAt: "2026-12-01T02:00:00.000Z",
    backupFinishedAt: "2026-12-01T02:04:00.000Z",
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: 90,
    steps: [],
    backupAgeSeconds: 3600,
    restoreDurationSeconds: failure ? null : 41.25,
    rtoSeconds: failure ? null : 90,
    rpoSeconds: 3600,
    scratch: { server: "127.0.0.1:5432/postgres", database: `drill_${id}`, kept: false },
    integrity: {
      tables: 3,
      tablesMatching: failure ? 0 : 3,
      passRate: failure ? null : 1,
      mismatches: [],
    },
    smoke: [],
    manualInterventions: 0,
    passed: failure === undefined,
    ...(failure ? { failure } : {}),
  };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "drctl-status-reports-"));
  url = pathToFileURL(work).href;
  store = openStore(url);
  await writeReport(store, drillReport("20261201T060000Z-aaaaaa", 72));
  await writeReport(
    store,
    drillReport("20261204T060000Z-bbbbbb", 3, {
      step: "restore",
      reason: "pg_restore exited with status 1",
    }),
  );
  const test: RestoreTestReport = {
    kind: "restore-test",
    restoreJobId: "E1F2A3B4-0000-1111-2222-333344445555",
    planArn:
      "arn:aws:backup:us-east-1:111122223333:restore-testing-plan:acme_dr_use1_monthly-abc123",
    sourceResourceArn: "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg",
    restoredResourceArn: "arn:aws:rds:us-east-1:111122223333:db:awsbackup-restore-test-1",
    recoveryPointArn: "arn:aws:rds:us-east-1:111122223333:snapshot:awsbackup:job-1",
    recoveryPointCreatedAt: "2026-12-03T04:00:00.000Z",
    restoreCompletedAt: new Date(Date.now() - 30 * HOUR - 60_000).toISOString(),
    restoreSeconds: 1260,
    validatedAt: new Date(Date.now() - 30 * HOUR).toISOString(),
    passed: true,
    reason: "3 smoke queries returned rows",
    tables: 12,
    smoke: [],
  };
  await putBytes(
    store,
    `reports/restore-tests/2026-12-03-${test.restoreJobId}.json`,
    Buffer.from(JSON.stringify(test)),
  );
  // drctl check's probe lives under reports/ too: it is no drill.
  await putBytes(store, "reports/check/20261205T000000Z-cccccc.json", Buffer.from('{"probe":1}'));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("drctl status beside the backups", () => {
  it("shows the last drill (failed here) and the last restore test with age, result and restore time", async () => {
    const r = await drctl(["status", "--store", url]);
    const lines = r.stdout.split("\n");
    expect(lines).toContain(
      "drill        FAILED (restore: pg_restore exited with status 1)  age 3h0m  " +
        `reports/${new Date(Date.now() - 3 * HOUR - 90_000).toISOString().slice(0, 10)}-20261204T060000Z-bbbbbb.json`,
    );
    expect(lines).toContain(
      "restore-test passed  age 30h0m  restore 1260.0s  " +
        "reports/restore-tests/2026-12-03-E1F2A3B4-0000-1111-2222-333344445555.json",
    );
    // No backup in this store: still breached, whatever the drills say.
    expect(r.code).toBe(2);
  });

  it("--json carries both, as objects", async () => {
    const r = await drctl(["status", "--store", url, "--json"]);
    const j = JSON.parse(r.stdout) as Record<string, any>;
    expect(j.lastDrill).toMatchObject({
      passed: false,
      failure: "restore: pg_restore exited with status 1",
      restoreSeconds: null,
    });
    expect(Math.round(j.lastDrill.ageSeconds / 3600)).toBe(3);
    expect(j.lastRestoreTest).toMatchObject({
      key: "reports/restore-tests/2026-12-03-E1F2A3B4-0000-1111-2222-333344445555.json",
      passed: true,
      restoreSeconds: 1260,
    });
    expect(Math.round(j.lastRestoreTest.ageSeconds / 3600)).toBe(30);
  });

  it("says none when there is no report", async () => {
    const empty = pathToFileURL(mkdtempSync(join(work, "empty-"))).href;
    const r = await drctl(["status", "--store", empty]);
    expect(r.stdout.split("\n")).toEqual(
      expect.arrayContaining(["drill        none", "restore-test none"]),
    );
  });
});
