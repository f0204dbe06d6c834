import { describe, expect, it } from "vitest";
import type { Fault } from "./fakes";
import { harness, readReport, type Harness } from "./fakes";

/**
 * The day us-east-1 is down (issue 15, "done when"): every call to us-east-1, to IAM, to the Route 53
 * control plane, and every call to the `primary` stack (its config, outputs, preview, update) fails
 * or hangs. IAM and Route 53 have no port in drctl at all any more; the world still records any
 * call so the test can say none was made.
 */
function regionDown(fault: Fault, opts: { ignoreSignal?: boolean } = {}): Harness {
  const h = harness();
  for (const where of ["us-east-1", "iam", "route53", "stack:primary"])
    h.world.faults.set(where, fault);
  h.world.hangIgnoresSignal = opts.ignoreSignal ?? false;
  // With the region down, use1's endpoint health check fails too.
  h.sites.healthy.use1 = false;
  return h;
}

/** Every call the report records ended within its deadline, and none waited longer. */
function expectBounded(h: Harness): void {
  const report = readReport(h.workDir);
  for (const c of report.calls) expect(c.seconds).toBeLessThanOrEqual(c.deadlineSeconds);
}

describe("drctl failover --to usw2 with us-east-1, IAM, Route 53 and stack primary hanging", () => {
  it.each([
    ["calls that abort on their signal", false],
    ["calls that ignore their signal", true],
  ])("finishes with exit 0 and usw2 primary (%s)", async (_name, ignoreSignal) => {
    const h = regionDown("hang", { ignoreSignal });
    const r = await h.run("failover", "--to", "usw2");

    expect(r.code).toBe(0);
    expect(h.ops.deployedRole("usw2")).toBe("primary");
    expect(h.ops.deployed.dr["dr-stack:peerLinks"]).toBe(false);
    // Nothing but reads was even attempted on the old stack; nothing at all on IAM or Route 53.
    expect(r.calls.filter((c) => c.endsWith(" primary"))).toEqual([
      "getAllConfig primary",
      "outputs primary",
    ]);
    expect(r.world.filter((c) => /^(iam|route53) /.test(c))).toEqual([]);
    expect(h.world.to("us-east-1")).toEqual([
      "us-east-1 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=1 Site=usw2",
    ]);

    const report = readReport(h.workDir);
    expect(report.outcome).toBe("done");
    // The stack read timed out at 60 s before the first step: the timeline starts at the read.
    expect(report.startedAt).toBe("2025-03-01T12:00:00.000Z");
    expect(report.rpoBoundSeconds).toBe(64);
    expect(report.preflight?.lastReplayAt).toBe("2025-03-01T11:59:56.000Z");
    expect(report.fencing).toEqual({ traffic: "done", sql: "skipped", drain: "skipped" });
    expect(
      report.calls.filter((c) => c.outcome !== "ok").map((c) => [c.target, c.outcome, c.seconds]),
    ).toEqual([
      ["Pulumi CLI/state Pulumi stack primary: read config", "timed out", 60],
      [
        "us-east-1 PostgreSQL: ALTER DATABASE … SET default_transaction_read_only = on; pg_terminate_backend on use1's database",
        "timed out",
        15,
      ],
      [
        "us-east-1 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=1 Site=usw2",
        "timed out",
        10,
      ],
    ]);
    expectBounded(h);
    // The measured timeline: 60 s stack read, 15 s fence deadline, 240 + 120 s of updates, 10 s
    // traffic-on deadline.
    expect(report.steps.map((s) => [s.id, s.status, s.durationSeconds])).toEqual([
      ["preflight", "done", 0],
      ["traffic-off-use1", "done", 0],
      ["sql-fence-use1", "skipped", 15],
      ["drain-usw2", "skipped", 0],
      ["promote-usw2", "done", 240],
      ["primary-usw2", "done", 120],
      ["traffic-on-usw2", "skipped", 10],
      ["check-write-usw2", "done", 0],
      ["check-dns-usw2", "done", 0],
    ]);
    expect(report.rto).toEqual({ stepsSeconds: 385, wallClockSeconds: 445 });
    expect(report.warnings).toEqual([
      "!!! SQL FENCE SKIPPED: use1's database did not answer (us-east-1 PostgreSQL: ALTER DATABASE … " +
        "SET default_transaction_read_only = on; pg_terminate_backend on use1's database did not answer " +
        "within 15s (deadline)). Its traffic control is off, but a client that reaches it directly can " +
        "still write; when its region returns, run drctl failover reconnect --to usw2",
      "traffic control of usw2 could not be switched on in us-east-1 (us-east-1 CloudWatch: PutMetricData " +
        "DrStack/Traffic SiteEnabled=1 Site=usw2 did not answer within 10s (deadline)); Route 53 follows " +
        "that alarm's insufficient-data setting until drctl failover reconnect --to usw2 switches it on",
    ]);
    expect(r.stdout).toContain(
      "  RPO bound: 1m04s (last replayed commit 2025-03-01T11:59:56.000Z)",
    );
    expect(r.stdout).toContain(
      "  call timed out: Pulumi CLI/state Pulumi stack primary: read config after 1m00s (deadline 1m00s)",
    );
  });

  it("finishes the same way when us-east-1 answers every call with a 5xx (a half-down region)", async () => {
    const h = regionDown("5xx");
    const r = await h.run("failover", "--to", "usw2");

    expect(r.code).toBe(0);
    expect(h.ops.deployedRole("usw2")).toBe("primary");
    const report = readReport(h.workDir);
    expect(report.fencing).toEqual({ traffic: "done", sql: "skipped", drain: "skipped" });
    // An error answer is not "reachable": only the old database answering the fence is.
    expect(report.calls.filter((c) => c.outcome !== "ok").map((c) => [c.target, c.error])).toEqual([
      [
        "Pulumi CLI/state Pulumi stack primary: read config",
        "ServiceUnavailable: stack:primary Pulumi answered 503",
      ],
      [
        "us-east-1 PostgreSQL: ALTER DATABASE … SET default_transaction_read_only = on; pg_terminate_backend on use1's database",
        "ServiceUnavailable: stack:primary Pulumi answered 503",
      ],
      [
        "us-east-1 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=1 Site=usw2",
        "ServiceUnavailable: us-east-1 CloudWatch answered 503",
      ],
    ]);
    expect(report.rto.stepsSeconds).toBe(360);
    expectBounded(h);
  });

  it("--plan prints every step with its region and service and calls nothing in us-east-1", async () => {
    const h = regionDown("hang");
    const r = await h.run("failover", "--to", "usw2", "--plan");

    expect(r.code).toBe(0);
    expect(h.world.to("us-east-1")).toEqual([]);
    expect(r.calls).toEqual(["getAllConfig primary", "getAllConfig dr", "preview dr"]);
    expect(r.stdout).toBe(
      [
        "plan: failover to usw2 (stack dr, us-west-2) from use1 (stack primary, us-east-1)",
        "  RPO bound now, from usw2's replica: 1m04s (last replayed commit 2025-03-01T11:59:56.000Z)",
        "  stack dr (usw2, standby): pending changes the next up would also apply: update 1",
        "  1. preflight: RPO bound from usw2's replica, newest backup",
        "       -> us-west-2 PostgreSQL: SELECT now(), pg_last_xact_replay_timestamp() on usw2's database",
        "       -> us-west-2 S3: ListObjectsV2 of usw2's bucket",
        "  2. traffic control of use1 off (in us-west-2)",
        "       -> us-west-2 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=0 Site=use1",
        "  3. SQL fence of use1: default_transaction_read_only, end sessions  (skipped with a warning if it fails)",
        "       -> us-west-2 Secrets Manager: GetSecretValue acme-dr-use1/db/master (its replica in us-west-2)",
        "       -> Pulumi CLI/state Pulumi stack primary: read outputs (dbEndpoint)",
        "       -> us-east-1 PostgreSQL: ALTER DATABASE … SET default_transaction_read_only = on; pg_terminate_backend on use1's database",
        "  4. wait for usw2 to replay use1's last write  (skipped with a warning if it fails)",
        "       -> us-west-2 PostgreSQL: SELECT pg_last_wal_replay_lsn() on usw2's database",
        "  5. promote usw2: standby -> promoting (detach replica, peerLinks false)",
        "       pulumi config set dr-stack:role promoting --stack dr",
        "       pulumi config set --path dr-stack:database.previousRole standby --stack dr",
        "       pulumi config set --path dr-stack:peerLinks false --stack dr",
        "       -> us-west-2 Pulumi stack dr: pulumi up (resources in us-west-2 only)",
        "       pulumi config rm --path dr-stack:database.previousRole --stack dr",
        "  6. promote usw2: promoting -> primary",
        "       pulumi config set dr-stack:role primary --stack dr",
        "       pulumi config set --path dr-stack:database.previousRole promoting --stack dr",
        "       -> us-west-2 Pulumi stack dr: pulumi up (resources in us-west-2 only)",
        "       pulumi config rm --path dr-stack:database.previousRole --stack dr",
        "  7. traffic control of usw2 on (in us-east-1)  (skipped with a warning if it fails)",
        "       -> us-east-1 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=1 Site=usw2",
        "  8. check usw2 takes a write",
        "       -> us-west-2 Secrets Manager: GetSecretValue acme-dr-usw2/db/master",
        "       -> Pulumi CLI/state Pulumi stack dr: read outputs (dbEndpoint)",
        "       -> us-west-2 PostgreSQL: BEGIN; CREATE TABLE …; ROLLBACK on usw2's database",
        "  9. check DNS answers with usw2",
        "       -> global DNS: resolve the service's record",
        "deadlines: stack 1m00s, up 45m00s, db 10s, fence 15s, aws 10s, dns 5s, drain 2m00s",
        "--plan: nothing was changed.",
        "",
      ].join("\n"),
    );
  });
});
