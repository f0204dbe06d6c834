import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { harness, moveCalls, readReport } from "./fakes";

const READ_BOTH = ["getAllConfig primary", "getAllConfig dr"];
const PROMOTING_USW2 = moveCalls("dr", "promoting", "standby", [
  "set --path dr dr-stack:peerLinks=false",
]);
const PRIMARY_USW2 = moveCalls("dr", "primary", "promoting");

describe("drctl failover with both regions up", () => {
  it("reports the RPO bound, fences use1 (traffic off, SQL, drain) before promoting usw2 in its own region", async () => {
    const h = harness();
    const r = await h.run("failover", "--to", "usw2");

    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([
      ...READ_BOTH,
      "outputs primary",
      ...PROMOTING_USW2,
      ...PRIMARY_USW2,
      "outputs dr",
    ]);
    // The fence comes first, in this order, and only then the promotion's updates.
    expect(r.world).toEqual([
      "stack:primary Pulumi: getAllConfig primary",
      "stack:dr Pulumi: getAllConfig dr",
      "us-west-2 PostgreSQL: replica status of usw2",
      "us-west-2 S3: ListObjectsV2 usw2",
      "us-west-2 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=0 Site=use1",
      "us-west-2 Secrets Manager: GetSecretValue acme-dr-use1/db/master",
      "stack:primary Pulumi: outputs primary",
      "us-east-1 PostgreSQL: fence use1",
      "us-west-2 PostgreSQL: replica status of usw2",
      "stack:dr Pulumi: select dr",
      "stack:dr Pulumi: up dr",
      "stack:dr Pulumi: select dr",
      "stack:dr Pulumi: up dr",
      "us-east-1 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=1 Site=usw2",
      "us-west-2 Secrets Manager: GetSecretValue acme-dr-usw2/db/master",
      "stack:dr Pulumi: outputs dr",
      "us-west-2 PostgreSQL: write check on usw2",
      "global DNS: resolve app.acme-dr.example.com",
    ]);
    expect(h.ops.deploys).toEqual([
      "dr role=promoting allowRebuild=false peerLinks=false",
      "dr role=primary allowRebuild=false peerLinks=false",
    ]);
    expect(h.ops.deployedRole("usw2")).toBe("primary");
    // The old stack is not touched: its fenced update is the reconnect's reconciliation.
    expect(h.ops.deployedRole("use1")).toBe("primary");
    expect(h.sites.traffic).toEqual({ use1: false, usw2: true });
    expect([...h.sites.sqlFenced]).toEqual(["use1"]);

    const report = readReport(h.workDir);
    expect(report.outcome).toBe("done");
    expect(report.fencing).toEqual({ traffic: "done", sql: "done", drain: "done" });
    expect(report.warnings).toEqual([]);
    expect(report.preflight).toEqual({
      lastReplayAt: "2025-03-01T11:59:56.000Z",
      rpoBoundSeconds: 4,
      newestBackupAgeSeconds: 3600,
    });
    expect(report.rpoBoundSeconds).toBe(4);
    expect(report.steps.map((s) => [s.id, s.status, s.durationSeconds, s.note])).toEqual([
      [
        "preflight",
        "done",
        0,
        "RPO bound 4s (last replayed commit 2025-03-01T11:59:56.000Z); newest backup of usw2 1h00m old",
      ],
      [
        "traffic-off-use1",
        "done",
        0,
        "PutMetricData DrStack/Traffic SiteEnabled=0 Site=use1 in us-west-2",
      ],
      [
        "sql-fence-use1",
        "done",
        0,
        "read-only for new sessions; 3 open session(s) ended; WAL at 0/3000148",
      ],
      ["drain-usw2", "done", 0, "usw2 replayed up to 0/3000148 (use1 fenced at 0/3000148)"],
      ["promote-usw2", "done", 240, undefined],
      ["primary-usw2", "done", 120, undefined],
      [
        "traffic-on-usw2",
        "done",
        0,
        "PutMetricData DrStack/Traffic SiteEnabled=1 Site=usw2 in us-east-1",
      ],
      ["check-write-usw2", "done", 0, "usw2 accepted a write"],
      ["check-dns-usw2", "done", 0, "DNS answers with usw2"],
    ]);
    expect(report.rto).toEqual({ stepsSeconds: 360, wallClockSeconds: 360 });
    expect(report.nextSteps).toEqual([
      "when us-east-1 answers again: drctl failover reconnect --to usw2 (fences stack primary, " +
        "switches usw2's traffic control on, restores the links into us-east-1, starts S3 Batch " +
        "Replication); docs/runbooks/region-failover.md",
    ]);
    expect(report.calls.every((c) => c.outcome === "ok")).toBe(true);
    expect(r.stdout).toContain(
      [
        "timeline: failover use1 -> usw2",
        "       +0s  preflight: RPO bound from usw2's replica, newest backup               done         0s",
        "       +0s  traffic control of use1 off (in us-west-2)                            done         0s",
        "       +0s  SQL fence of use1: default_transaction_read_only, end sessions        done         0s",
        "       +0s  wait for usw2 to replay use1's last write                             done         0s",
        "       +0s  promote usw2: standby -> promoting (detach replica, peerLinks false)  done      4m00s",
        "    +4m00s  promote usw2: promoting -> primary                                    done      2m00s",
        "    +6m00s  traffic control of usw2 on (in us-east-1)                             done         0s",
        "    +6m00s  check usw2 takes a write                                              done         0s",
        "    +6m00s  check DNS answers with usw2                                           done         0s",
        "  total time in steps (measured RTO): 6m00s",
        "  wall clock, stack reads included: 6m00s",
        "  RPO bound: 4s (last replayed commit 2025-03-01T11:59:56.000Z)",
      ].join("\n"),
    );
    expect(existsSync(join(h.workDir, ".drctl", "failover-usw2.json"))).toBe(false);
    expect(readdirSync(join(h.workDir, ".drctl", "history"))).toEqual([
      "failover-usw2-20250301T120000Z.json",
    ]);
  });

  it("refuses with exit 2 only when the RPO bound is over an explicit --max-data-loss", async () => {
    const h = harness();
    const r = await h.run("failover", "--to", "usw2", "--max-data-loss", "2s");

    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "step preflight stopped the run: RPO bound of usw2 is 4s (last replayed commit " +
        "2025-03-01T11:59:56.000Z), over --max-data-loss 2s: promoting now loses every write use1 " +
        "committed after that. Wait for the replica and re-run, or raise or drop --max-data-loss to " +
        "accept the loss.",
    );
    expect(r.calls).toEqual(READ_BOTH);
    // Nothing changed, so nothing is left that would block a later run.
    expect(existsSync(join(h.workDir, ".drctl", "failover-usw2.json"))).toBe(false);

    const within = await harness().run("failover", "--to", "usw2", "--max-data-loss", "5s");
    expect(within.code).toBe(0);
  });

  it("refuses an unknown RPO bound under --max-data-loss, and only warns without it", async () => {
    const h = harness();
    h.sites.replica.usw2 = { lastReplayAt: null, replayLsn: "0/3000148", receiveLsn: "0/3000148" };
    const refused = await h.run("failover", "--to", "usw2", "--max-data-loss", "1h");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      "RPO bound unknown (usw2's replica has replayed no transaction since it started), and " +
        "--max-data-loss 1h00m needs a known one. Fix the read of usw2's replica and re-run, or drop " +
        "--max-data-loss to promote anyway.",
    );
    const r = await h.run("failover", "--to", "usw2");
    expect(r.code).toBe(0);
    expect(readReport(h.workDir).warnings).toEqual([
      "RPO bound unknown: usw2's replica has replayed no transaction since it started",
    ]);
  });

  it("--skip-fence promotes without touching use1's traffic control or database, and says so", async () => {
    const h = harness();
    // The operator's reason to skip: use1 is known dead (its health check fails).
    h.sites.healthy.use1 = false;
    const r = await h.run("failover", "--to", "usw2", "--skip-fence");
    expect(r.code).toBe(0);
    expect(r.world.filter((c) => /Site=use1|fence use1/.test(c))).toEqual([]);
    const report = readReport(h.workDir);
    expect(report.fencing).toEqual({
      traffic: "not planned",
      sql: "not planned",
      drain: "not planned",
    });
    expect(report.warnings).toEqual([
      "--skip-fence: use1's traffic control and database were left as they are; if it still takes " +
        "writes, they are lost to usw2",
    ]);
  });

  it("warns, without refusing, when the newest backup is older than alarms.backupMaxAgeHours (26 h)", async () => {
    const h = harness();
    h.sites.backupAgeSeconds = 30 * 3600;
    const r = await h.run("failover", "--to", "usw2");
    expect(r.code).toBe(0);
    expect(readReport(h.workDir).warnings).toEqual([
      "newest backup of usw2 is 30h00m old, over 26h00m (alarms.backupMaxAgeHours): take one with drctl backup once the new primary is up",
    ]);
  });
});

describe("drctl failover usage errors (exit 64)", () => {
  const cases: [string, string[], string][] = [
    [
      "missing --to",
      ["failover"],
      "drctl: failover: --to <site> is required: name the site that should become primary (a key of dr-stack:sites, e.g. --to usw2)",
    ],
    [
      "an unknown site",
      ["failover", "--to", "euw1"],
      'drctl failover: unknown site "euw1": the stacks define use1 (stack primary), usw2 (stack dr); pass one of those to --to',
    ],
    [
      "--to the current primary",
      ["failover", "--to", "use1"],
      "drctl failover: use1 is already the primary (stack primary); to move the primary to usw2, run drctl failover --to usw2",
    ],
    [
      "a malformed --max-data-loss",
      ["failover", "--to", "usw2", "--max-data-loss", "soon"],
      'drctl: --max-data-loss "soon" is not a duration; expected e.g. 30s, 5m or 1h',
    ],
    [
      "an unknown deadline",
      ["failover", "--to", "usw2", "--deadline", "iam=5s"],
      'drctl: --deadline "iam=5s": expected <name>=<duration> with name one of stack, up, db, fence, aws, dns, drain',
    ],
    [
      "the removed --force",
      ["failover", "--to", "usw2", "--force"],
      "drctl: failover: Unknown option '--force'",
    ],
    [
      "--skip-fence on a failback",
      ["failback", "--to", "use1", "--skip-fence"],
      "drctl: failback: --skip-fence is for drctl failover only: a planned switchover fences the old primary and waits for the replica, losing nothing",
    ],
    [
      "reconnect to a standby",
      ["failover", "reconnect", "--to", "usw2"],
      "drctl failover reconnect: reconnect follows a failover to usw2, but usw2 is standby; run drctl failover --to usw2 first",
    ],
  ];
  it.each(cases)("%s", async (_name, argv, message) => {
    const h = harness();
    const r = await h.run(...argv);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(message);
    expect(r.calls.filter((c) => !c.startsWith("getAllConfig"))).toEqual([]);
  });

  it("prints usage with exit 0 for --help", async () => {
    const h = harness();
    const r = await h.run("failover", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("usage: drctl failover --to <site> [options]");
    expect(r.stdout).toContain("drctl failover reconnect --to <site> [options]");
    expect(r.calls).toEqual([]);
  });
});

describe("the fake stacks check each move as the program does", () => {
  it("fails an up whose role change is undeclared, declared wrongly, or not a valid move", async () => {
    const { ops } = harness();
    const signal = new AbortController().signal;
    await ops.setConfig("dr", "dr-stack:role", "promoting", { path: false });
    await expect(ops.up("dr", signal)).rejects.toThrow(
      "undeclared move of stack dr: standby -> promoting",
    );
    await ops.setConfig("dr", "dr-stack:database.previousRole", "fenced", { path: true });
    await expect(ops.up("dr", signal)).rejects.toThrow(
      "stack dr declares previousRole fenced, but standby is deployed",
    );
    await ops.setConfig("dr", "dr-stack:role", "primary", { path: false });
    await ops.setConfig("dr", "dr-stack:database.previousRole", "standby", { path: true });
    await expect(ops.up("dr", signal)).rejects.toThrow(
      "dr-stack:role: moving from standby (dr-stack:database.previousRole) to primary is not a valid transition",
    );
    expect(ops.deploys).toEqual([]);
  });
});
