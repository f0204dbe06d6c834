import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FailoverReport } from "../../drctl/src/failover/report";
import { harness, moveCalls } from "./fakes";

const READ_BOTH = ["getAllConfig primary", "getAllConfig dr"];
const FENCE_USE1 = moveCalls("primary", "fenced", "primary");
const PROMOTING_USW2 = moveCalls("dr", "promoting", "standby");
const PRIMARY_USW2 = moveCalls("dr", "primary", "promoting");
// Fencing skipped leaves use1's PRIMARY record, which would block usw2's: drctl deletes it itself.
const RELEASE_USE1 = ["dns delete Z0123456789ABCDEFGHIJ app.acme-dr.example.com A acme-dr-use1"];
const RELEASE_WARNING =
  "use1's DNS PRIMARY record acme-dr-use1 (app.acme-dr.example.com A) is deleted in Route 53, but " +
  "stack primary still records it: when use1 returns, run pulumi refresh --stack primary before fencing it";

function readReport(workDir: string): FailoverReport {
  const dir = join(workDir, ".drctl", "reports");
  const files = readdirSync(dir);
  expect(files).toHaveLength(1);
  return JSON.parse(readFileSync(join(dir, files[0]), "utf8")) as FailoverReport;
}

describe("drctl failover", () => {
  it("fences use1, promotes usw2 in two updates, checks a write and DNS, and reports the timeline", async () => {
    const h = harness();
    const r = await h.run("failover", "--to", "usw2", "--max-lag", "30s");

    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, ...FENCE_USE1, ...PROMOTING_USW2, ...PRIMARY_USW2]);
    expect(h.probes.sites).toEqual([
      "lag usw2",
      "backup usw2",
      "reachable use1",
      "write usw2",
      "dns",
    ]);
    expect(h.ops.role("primary")).toBe("fenced");
    expect(h.ops.role("dr")).toBe("primary");

    const report = readReport(h.workDir);
    expect(report.outcome).toBe("done");
    expect(report.fencing).toBe("done");
    expect(report.warnings).toEqual([]);
    expect(report.preflight).toEqual({
      maxLagSeconds: 30,
      forced: false,
      replicaLagSeconds: 4,
      newestBackupAgeSeconds: 3600,
    });
    expect(report.rpoSeconds).toBe(4);
    // Fake updates take 60 s (fenced), 240 s (promoting) and 120 s (primary); checks take no time.
    expect(report.steps.map((s) => [s.id, s.status, s.durationSeconds])).toEqual([
      ["preflight", "done", 0],
      ["fence-use1", "done", 60],
      ["promote-usw2", "done", 240],
      ["primary-usw2", "done", 120],
      ["check-write-usw2", "done", 0],
      ["check-dns-usw2", "done", 0],
    ]);
    expect(report.rto).toEqual({ stepsSeconds: 420, wallClockSeconds: 420 });
    expect(report.startedAt).toBe("2025-03-01T12:00:00.000Z");
    expect(r.stdout).toContain(
      [
        "timeline: failover use1 -> usw2",
        "       +0s  preflight: replica lag of usw2, newest backup        done         0s",
        "       +0s  fence use1: primary -> fenced                        done      1m00s",
        "    +1m00s  promote usw2: standby -> promoting (detach replica)  done      4m00s",
        "    +5m00s  promote usw2: promoting -> primary                   done      2m00s",
        "    +7m00s  check usw2 takes a write                             done         0s",
        "    +7m00s  check DNS answers with usw2                          done         0s",
        "  total time in steps (measured RTO): 7m00s",
        "  replica lag at preflight (RPO bound): 4s",
      ].join("\n"),
    );

    // The finished run is archived: the next failover starts fresh.
    expect(existsSync(join(h.workDir, ".drctl", "failover-usw2.json"))).toBe(false);
    expect(readdirSync(join(h.workDir, ".drctl", "history"))).toEqual([
      "failover-usw2-20250301T120000Z.json",
    ]);
  });

  it("refuses with exit 2 when replica lag is over --max-lag, naming both and --force", async () => {
    const h = harness();
    h.probes.lag.usw2 = 95;
    const r = await h.run("failover", "--to", "usw2", "--max-lag", "30s");

    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "replica lag of usw2 is 95s, over the limit of 30s (--max-lag). Promoting now could lose up to " +
        "that much of the writes made on use1. Wait for the lag to fall and re-run, or re-run with " +
        "--force to accept the loss.",
    );
    expect(r.calls).toEqual(READ_BOTH);
    // Nothing changed, so nothing is left that would block a later run.
    expect(existsSync(join(h.workDir, ".drctl", "failover-usw2.json"))).toBe(false);
  });

  it("takes the lag limit from dr-stack:alarms.replicaLagSeconds (60 s) when --max-lag is absent", async () => {
    const h = harness();
    h.probes.lag.usw2 = 61;
    const r = await h.run("failover", "--to", "usw2");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("replica lag of usw2 is 61s, over the limit of 60s (--max-lag)");
  });

  it("refuses when there is no ReplicaLag datapoint at all", async () => {
    const h = harness();
    h.probes.lag.usw2 = undefined;
    const r = await h.run("failover", "--to", "usw2");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "replica lag of usw2 is unknown (no ReplicaLag datapoint), over the limit of 60s",
    );
  });

  it("with --force promotes past the lag limit and records the breached RPO", async () => {
    const h = harness();
    h.probes.lag.usw2 = 95;
    const r = await h.run("failover", "--to", "usw2", "--max-lag", "30s", "--force");

    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, ...FENCE_USE1, ...PROMOTING_USW2, ...PRIMARY_USW2]);
    const report = readReport(h.workDir);
    expect(report.rpoSeconds).toBe(95);
    expect(report.warnings).toEqual([
      "FORCED: replica lag of usw2 is 95s, over the limit of 30s (--max-lag); writes newer than that may be lost (RPO breached)",
    ]);
  });

  it("warns, without refusing, when the newest backup is older than alarms.backupMaxAgeHours (26 h)", async () => {
    const h = harness();
    h.probes.backupAgeSeconds = 30 * 3600;
    const r = await h.run("failover", "--to", "usw2");
    expect(r.code).toBe(0);
    expect(readReport(h.workDir).warnings).toEqual([
      "newest backup of usw2 is 30h00m old, over 26h00m (alarms.backupMaxAgeHours): take one with drctl backup once the new primary is up",
    ]);
  });

  it("skips fencing with a loud, recorded warning when use1's region does not answer", async () => {
    const h = harness();
    h.probes.reachable.use1 = false;
    h.probes.healthy.use1 = false;
    const r = await h.run("failover", "--to", "usw2");

    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, ...PROMOTING_USW2, ...RELEASE_USE1, ...PRIMARY_USW2]);
    expect(h.ops.role("primary")).toBe("primary");
    const warning =
      "!!! FENCING SKIPPED: the region of use1 does not answer. use1 was NOT made read-only and may " +
      "still take writes if it comes back; fence it as soon as it returns: pulumi config set " +
      "dr-stack:role fenced --stack primary && pulumi up --stack primary";
    expect(r.stderr).toContain(`WARNING: ${warning}`);
    const report = readReport(h.workDir);
    expect(report.fencing).toBe("skipped");
    expect(report.dnsRelease).toBe("deleted");
    expect(report.warnings).toEqual([warning, RELEASE_WARNING]);
    expect(report.steps[1]).toMatchObject({
      id: "fence-use1",
      status: "skipped",
      note: "fencing skipped: the region of use1 does not answer",
    });
    expect(r.stdout).toContain("WARNING: !!! FENCING SKIPPED");
  });

  it("skips fencing when use1's Pulumi state cannot be read, finding its site from usw2's config", async () => {
    const h = harness();
    h.ops.unreachable.add("primary");
    h.probes.healthy.use1 = false;
    const r = await h.run("failover", "--to", "usw2");

    expect(r.code).toBe(0);
    expect(r.calls).toEqual([
      ...READ_BOTH,
      "select primary",
      ...PROMOTING_USW2,
      ...RELEASE_USE1,
      ...PRIMARY_USW2,
    ]);
    expect(readReport(h.workDir).warnings[0]).toContain(
      "!!! FENCING SKIPPED: stack primary cannot be selected (backend for stack primary did not answer)",
    );
  });

  it("--plan prints every step and config change and only reads", async () => {
    const h = harness();
    const r = await h.run("failover", "--to", "usw2", "--plan");

    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, "preview primary", "preview dr"]);
    expect(h.probes.sites).toEqual(["lag usw2"]);
    expect(r.stdout).toBe(
      [
        "plan: failover to usw2 (stack dr, us-west-2) from use1 (stack primary, us-east-1)",
        "  replica lag of usw2 now: 4s (limit 60s)",
        "  stack primary (use1, primary): pending changes the next up would also apply: update 1",
        "  stack dr (usw2, standby): pending changes the next up would also apply: update 1",
        "  1. preflight: replica lag of usw2, newest backup",
        "  2. fence use1: primary -> fenced",
        "       pulumi config set dr-stack:role fenced --stack primary",
        "       pulumi config set --path dr-stack:database.previousRole primary --stack primary",
        "       pulumi up --stack primary",
        "       pulumi config rm --path dr-stack:database.previousRole --stack primary",
        "       (skipped with a loud warning if use1's region or stack does not answer)",
        "  3. promote usw2: standby -> promoting (detach replica)",
        "       pulumi config set dr-stack:role promoting --stack dr",
        "       pulumi config set --path dr-stack:database.previousRole standby --stack dr",
        "       pulumi up --stack dr",
        "       pulumi config rm --path dr-stack:database.previousRole --stack dr",
        "  4. release use1's DNS record (delete PRIMARY acme-dr-use1)",
        "       Route 53 zone Z0123456789ABCDEFGHIJ: DELETE app.acme-dr.example.com A set identifier acme-dr-use1, if it is PRIMARY",
        "       (only if fencing use1 is skipped: its record would block usw2's becoming PRIMARY)",
        "  5. promote usw2: promoting -> primary",
        "       pulumi config set dr-stack:role primary --stack dr",
        "       pulumi config set --path dr-stack:database.previousRole promoting --stack dr",
        "       pulumi up --stack dr",
        "       pulumi config rm --path dr-stack:database.previousRole --stack dr",
        "  6. check usw2 takes a write",
        "  7. check DNS answers with usw2",
        "--plan: nothing was changed.",
        "",
      ].join("\n"),
    );
    expect(existsSync(join(h.workDir, ".drctl"))).toBe(false);
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
      "a malformed --max-lag",
      ["failover", "--to", "usw2", "--max-lag", "soon"],
      'drctl: --max-lag "soon" is not a duration; expected e.g. 30s, 5m or 1h',
    ],
    [
      "an unknown flag",
      ["failover", "--to", "usw2", "--yes"],
      "drctl: failover: Unknown option '--yes'",
    ],
    [
      "--force on a failback",
      ["failback", "--to", "use1", "--force"],
      "drctl: failback: --force is not accepted: a planned switchover waits for the replica to catch up",
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
    expect(r.calls).toEqual([]);
  });
});

describe("the fake stacks check each move as the program does", () => {
  it("fails an up whose role change is undeclared, declared wrongly, or not a valid move", async () => {
    const { ops } = harness();
    await ops.setConfig("dr", "dr-stack:role", "promoting", { path: false });
    await expect(ops.up("dr")).rejects.toThrow("undeclared move of stack dr: standby -> promoting");
    await ops.setConfig("dr", "dr-stack:database.previousRole", "fenced", { path: true });
    await expect(ops.up("dr")).rejects.toThrow(
      "stack dr declares previousRole fenced, but standby is deployed",
    );
    await ops.setConfig("dr", "dr-stack:role", "primary", { path: false });
    await ops.setConfig("dr", "dr-stack:database.previousRole", "standby", { path: true });
    await expect(ops.up("dr")).rejects.toThrow(
      "dr-stack:role: moving from standby (dr-stack:database.previousRole) to primary is not a valid transition",
    );
    expect(ops.deploys).toEqual([]);
  });
});
