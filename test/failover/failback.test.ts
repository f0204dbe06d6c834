import { describe, expect, it } from "vitest";
import { afterFailover, harness, moveCalls, readReport, type Harness } from "./fakes";

const READ_BOTH = ["getAllConfig primary", "getAllConfig dr"];
const REBUILD_USE1 = [
  "select primary",
  "set --path primary dr-stack:database.allowRebuild=true",
  "set primary dr-stack:role=standby",
  "set --path primary dr-stack:database.previousRole=fenced",
  "up primary",
  "rm --path primary dr-stack:database.previousRole",
];
const REPROTECT_USE1 = [
  "select primary",
  "rm --path primary dr-stack:database.allowRebuild",
  "up primary",
];
const PROMOTING_USE1 = moveCalls("primary", "promoting", "standby", [
  "set --path primary dr-stack:peerLinks=false",
]);
const PRIMARY_USE1 = moveCalls("primary", "primary", "promoting");
const FENCE_STACK_USW2 = moveCalls("dr", "fenced", "primary");
const LINKS_USE1 = ["select primary", "set --path primary dr-stack:peerLinks=true", "up primary"];
const ALL = [
  ...READ_BOTH,
  ...REBUILD_USE1,
  ...REPROTECT_USE1,
  "outputs dr",
  ...PROMOTING_USE1,
  ...PRIMARY_USE1,
  "outputs primary",
  ...FENCE_STACK_USW2,
  ...LINKS_USE1,
];
const DEPLOYS = [
  "primary role=standby allowRebuild=true peerLinks=true",
  "primary role=standby allowRebuild=false peerLinks=true",
  "primary role=promoting allowRebuild=false peerLinks=false",
  "primary role=primary allowRebuild=false peerLinks=false",
  "dr role=fenced allowRebuild=false peerLinks=true",
  "primary role=primary allowRebuild=false peerLinks=true",
];

/** use1 fenced and switched off, usw2 primary with its links back (the reconnect ran: C1's default, true). */
function failedOver(): Harness {
  const h = harness();
  afterFailover(h);
  // The rebuilt replica is caught up: everything it received is applied.
  h.sites.replica.use1 = {
    lastReplayAt: new Date("2025-03-01T12:10:00.000Z"),
    replayLsn: "0/4000000",
    receiveLsn: "0/4000000",
  };
  return h;
}

describe("drctl failback (planned switchover, both regions up)", () => {
  it("rebuilds use1, waits for it, fences usw2 (traffic, SQL, drain) before promoting, then reconnects", async () => {
    const h = failedOver();
    const r = await h.run("failback", "--to", "use1", "--max-lag", "30s");

    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual(ALL);
    expect(h.ops.deploys).toEqual(DEPLOYS);
    const w = r.world.filter((c) => !c.startsWith("stack:") || / up /.test(c));
    expect(w).toEqual([
      "us-west-2 S3: ListObjectsV2 usw2",
      "stack:primary Pulumi: up primary",
      "stack:primary Pulumi: up primary",
      "us-east-1 PostgreSQL: replica status of use1",
      "us-east-1 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=0 Site=usw2",
      "us-east-1 Secrets Manager: GetSecretValue acme-dr-usw2/db/master",
      "us-west-2 PostgreSQL: fence usw2",
      "us-east-1 PostgreSQL: replica status of use1",
      "stack:primary Pulumi: up primary",
      "stack:primary Pulumi: up primary",
      "us-west-2 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=1 Site=use1",
      "us-east-1 Secrets Manager: GetSecretValue acme-dr-use1/db/master",
      "us-east-1 PostgreSQL: write check on use1",
      "global DNS: resolve app.acme-dr.example.com",
      "stack:dr Pulumi: up dr",
      "stack:primary Pulumi: up primary",
      "us-east-1 S3 Control: CreateJob S3ReplicateObject use1",
    ]);
    expect(h.ops.deployedRole("use1")).toBe("primary");
    expect(h.ops.deployedRole("usw2")).toBe("fenced");
    expect(h.ops.config.primary["dr-stack:database"]).toEqual({
      engineVersion: "16",
      instanceClass: "db.r6g.large",
      backupRetentionDays: 14,
    });
    expect(h.sites.traffic).toEqual({ use1: true, usw2: false });

    const report = readReport(h.workDir);
    expect(report.steps.map((s) => [s.id, s.status, s.durationSeconds])).toEqual([
      ["preflight", "done", 0],
      ["rebuild-use1", "done", 600],
      ["reprotect-use1", "done", 600],
      ["wait-lag-use1", "done", 0],
      ["traffic-off-usw2", "done", 0],
      ["sql-fence-usw2", "done", 0],
      ["drain-use1", "done", 0],
      ["promote-use1", "done", 240],
      ["primary-use1", "done", 120],
      ["traffic-on-use1", "done", 0],
      ["check-write-use1", "done", 0],
      ["check-dns-use1", "done", 0],
      ["fence-stack-usw2", "done", 60],
      ["links-use1", "done", 120],
      ["batch-replication-use1", "done", 0],
    ]);
    expect(report.fencing).toEqual({ traffic: "done", sql: "done", drain: "done" });
    expect(report.rpoBoundSeconds).toBeUndefined();
    expect(report.batchReplicationJob?.region).toBe("us-east-1");
  });

  it("waits for the rebuilt replica's lag, and stops with exit 2 when it does not catch up", async () => {
    const h = failedOver();
    const behind = {
      lastReplayAt: new Date("2025-03-01T11:50:00.000Z"),
      replayLsn: "0/3000000",
      receiveLsn: "0/3800000",
    };
    h.sites.replicaSeries.use1 = Array.from({ length: 5 }, () => behind);
    const first = await h.run(
      "failback",
      "--to",
      "use1",
      "--max-lag",
      "30s",
      "--lag-timeout",
      "2m",
    );
    expect(first.code).toBe(2);
    // Rebuild and re-protect took 20 min and the wait 2 more: the last replayed commit (11:50) is 32 min old.
    expect(first.stderr).toContain(
      "step wait-lag-use1 stopped the run: replica lag of use1 is still 1920s after 2m00s, over the " +
        "limit of 30s; the replica has not caught up. Re-run the same command to keep waiting (it " +
        "resumes here), or raise --lag-timeout.",
    );
    // 2 minutes at one reading every 30 s: readings at 0, 30, 60, 90 and 120 s.
    expect(
      first.world.filter((c) => c === "us-east-1 PostgreSQL: replica status of use1"),
    ).toHaveLength(5);
    expect(h.ops.deployedRole("usw2")).toBe("primary");

    const second = await h.run("failback", "--to", "use1", "--max-lag", "30s");
    expect(second.code).toBe(0);
    expect(h.ops.deploys).toEqual(DEPLOYS);
  });

  it("never skips a fence: a usw2 database that does not answer stops the switchover before any promotion", async () => {
    const h = failedOver();
    h.world.faults.set("us-west-2", "hang");
    const r = await h.run("failback", "--to", "use1");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "step sql-fence-usw2 stopped the run: us-west-2 PostgreSQL: ALTER DATABASE … SET " +
        "default_transaction_read_only = on; pg_terminate_backend on usw2's database did not answer " +
        "within 15s (deadline)",
    );
    expect(r.calls.filter((c) => c.startsWith("up "))).toEqual(["up primary", "up primary"]);
    expect(h.ops.deployedRole("use1")).toBe("standby");
    expect(h.ops.deployedRole("usw2")).toBe("primary");
  });

  it("--plan lists the rebuild, the lag wait, the fences, the switchover and the reconnect", async () => {
    const h = failedOver();
    const r = await h.run("failback", "--to", "use1", "--plan");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, "preview primary"]);
    expect(r.stdout.split("\n").filter((l) => /^ {2}\d+\. /.test(l))).toEqual([
      "  1. preflight: newest backup of usw2",
      "  2. rebuild use1 as standby of usw2 (replaces its database)",
      "  3. re-protect use1: remove database.allowRebuild",
      "  4. wait for use1 replica lag under the limit",
      "  5. traffic control of usw2 off (in us-east-1)",
      "  6. SQL fence of usw2: default_transaction_read_only, end sessions",
      "  7. wait for use1 to replay usw2's last write",
      "  8. promote use1: standby -> promoting (detach replica, peerLinks false)",
      "  9. promote use1: promoting -> primary",
      "  10. traffic control of use1 on (in us-west-2)",
      "  11. check use1 takes a write",
      "  12. check DNS answers with use1",
      "  13. reconcile usw2's stack: -> fenced (if it still says primary)",
      "  14. reconnect use1's links into us-west-2 (peerLinks true)",
      "  15. S3 Batch Replication of use1's bucket (objects written meanwhile)",
    ]);
  });

  it("refuses (64) when the current primary is not the peer, saying what to run", async () => {
    const h = failedOver();
    h.ops.config.dr["dr-stack:role"] = "promoting";
    const r = await h.run("failback", "--to", "use1");
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(
      "failback to use1 needs usw2 to be primary, but it is promoting; run drctl failover --to usw2 " +
        "first, or check both stacks' dr-stack:role.",
    );
    expect(r.calls).toEqual(READ_BOTH);
  });

  it("refuses (64) while the failover's old primary has not been reconciled, naming reconnect", async () => {
    const h = failedOver();
    h.ops.config.primary["dr-stack:role"] = "primary";
    const r = await h.run("failback", "--to", "use1");
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(
      "both stacks say primary: the failover to usw2 has not been reconciled yet. Run drctl failover " +
        "reconnect --to usw2 first (it fences stack primary), then re-run this.",
    );
  });

  it("refuses (64) a failover to a fenced site and points to failback", async () => {
    const h = failedOver();
    const r = await h.run("failover", "--to", "use1");
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(
      "use1 is fenced, not standby: a failover promotes a standby. To bring use1 back as primary, " +
        "run drctl failback --to use1.",
    );
  });
});
