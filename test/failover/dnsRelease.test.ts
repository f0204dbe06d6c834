import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FailoverReport } from "../../drctl/src/failover/report";
import type { RunState } from "../../drctl/src/failover/stateFile";
import { harness, moveCalls, setIdentifier, type Harness } from "./fakes";

/**
 * Route 53 keeps one PRIMARY per name and type. When a failover cannot fence use1, use1's PRIMARY
 * record stays in the zone and usw2's promoting -> primary update would fail with
 * InvalidChangeBatch (the fake zone enforces that rule), so drctl deletes use1's record itself.
 */

const READ_BOTH = ["getAllConfig primary", "getAllConfig dr"];
const FENCE_USE1 = moveCalls("primary", "fenced", "primary");
const PROMOTING_USW2 = moveCalls("dr", "promoting", "standby");
const PRIMARY_USW2 = moveCalls("dr", "primary", "promoting");
const RELEASE_USE1 = "dns delete Z0123456789ABCDEFGHIJ app.acme-dr.example.com A acme-dr-use1";
const ARGS = ["failover", "--to", "usw2"];
const STATE = (h: Harness) => join(h.workDir, ".drctl", "failover-usw2.json");

function readReport(workDir: string): FailoverReport {
  const dir = join(workDir, ".drctl", "reports");
  const files = readdirSync(dir);
  expect(files).toHaveLength(1);
  return JSON.parse(readFileSync(join(dir, files[0]), "utf8")) as FailoverReport;
}

/** use1's region is down: its API does not answer and its health check fails. */
function use1Down(): Harness {
  const h = harness();
  h.probes.reachable.use1 = false;
  h.probes.healthy.use1 = false;
  return h;
}

describe("drctl failover releases the old site's DNS record when fencing was skipped", () => {
  it("deletes use1's PRIMARY record after detaching usw2 and before its promoting -> primary update", async () => {
    const h = use1Down();
    const r = await h.run(...ARGS);

    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, ...PROMOTING_USW2, RELEASE_USE1, ...PRIMARY_USW2]);
    expect([...h.zone.records]).toEqual([[setIdentifier("usw2"), "PRIMARY"]]);

    const report = readReport(h.workDir);
    expect(report.outcome).toBe("done");
    expect(report.fencing).toBe("skipped");
    expect(report.dnsRelease).toBe("deleted");
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ["preflight", "done"],
      ["fence-use1", "skipped"],
      ["promote-usw2", "done"],
      ["release-dns-use1", "done"],
      ["primary-usw2", "done"],
      ["check-write-usw2", "done"],
      ["check-dns-usw2", "done"],
    ]);
    expect(report.steps[3].note).toBe(
      "deleted PRIMARY record acme-dr-use1 (app.acme-dr.example.com A) from zone Z0123456789ABCDEFGHIJ",
    );
    // The operator's to-do for when use1 returns is a recorded warning, next to the fencing one.
    expect(report.warnings[1]).toBe(
      "use1's DNS PRIMARY record acme-dr-use1 (app.acme-dr.example.com A) is deleted in Route 53, but " +
        "stack primary still records it: when use1 returns, run pulumi refresh --stack primary before fencing it",
    );
    expect(r.stdout).toMatch(
      /\+4m00s {2}release use1's DNS record \(delete PRIMARY acme-dr-use1\) +done +0s\n/,
    );
  });

  it("makes no DNS call when use1 was fenced: its fenced update removed the record", async () => {
    const h = harness();
    const r = await h.run(...ARGS);

    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, ...FENCE_USE1, ...PROMOTING_USW2, ...PRIMARY_USW2]);
    expect(r.stdout).toContain(
      "  = release use1's DNS record (delete PRIMARY acme-dr-use1): not needed (fence-use1 was not skipped)",
    );
    const report = readReport(h.workDir);
    expect(report.dnsRelease).toBe("not needed");
    expect(report.steps.map((s) => s.id)).not.toContain("release-dns-use1");
    expect(report.warnings).toEqual([]);
  });

  it("passes when the record is already gone (deleted by hand, or by an earlier attempt)", async () => {
    const h = use1Down();
    h.zone.records.delete(setIdentifier("use1"));
    const r = await h.run(...ARGS);

    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, ...PROMOTING_USW2, RELEASE_USE1, ...PRIMARY_USW2]);
    const report = readReport(h.workDir);
    expect(report.dnsRelease).toBe("absent");
    expect(report.steps.find((s) => s.id === "release-dns-use1")).toMatchObject({
      status: "done",
      note: "no PRIMARY record acme-dr-use1 (app.acme-dr.example.com A) in zone Z0123456789ABCDEFGHIJ: nothing to delete",
    });
    expect(report.warnings[1]).toContain("is already gone in Route 53");
  });

  it("resumes at the release when it failed, without repeating the updates before it", async () => {
    const h = use1Down();
    h.dns.failNext = new Error("Rate exceeded");
    const first = await h.run(...ARGS);

    expect(first.code).toBe(1);
    expect(first.calls).toEqual([...READ_BOTH, ...PROMOTING_USW2, RELEASE_USE1]);
    expect(first.stderr).toContain(
      "step release-dns-use1 stopped the run: could not delete use1's PRIMARY record acme-dr-use1 " +
        "(app.acme-dr.example.com A) in Route 53 zone Z0123456789ABCDEFGHIJ: Rate exceeded. The promoting " +
        "-> primary update needs it gone (Route 53 allows one PRIMARY per name and type). Re-run the same " +
        "command to retry (it resumes here), or delete the record by hand (docs/dns-failover.md) and re-run.",
    );
    expect(first.stderr).toContain(
      `progress is saved in ${STATE(h)}; re-running the same command resumes at release-dns-use1`,
    );
    const state = JSON.parse(readFileSync(STATE(h), "utf8")) as RunState;
    expect(state.steps.map((s) => [s.id, s.status])).toEqual([
      ["preflight", "done"],
      ["fence-use1", "skipped"],
      ["promote-usw2", "done"],
      ["release-dns-use1", "failed"],
      ["primary-usw2", "pending"],
      ["check-write-usw2", "pending"],
      ["check-dns-usw2", "pending"],
    ]);
    // usw2 is still SECONDARY: nothing was left half-promoted.
    expect(h.zone.records.get(setIdentifier("use1"))).toBe("PRIMARY");

    const second = await h.run(...ARGS);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(
      "resuming the failover to usw2 started 2025-03-01T12:00:00.000Z at: release use1's DNS record",
    );
    expect(second.calls).toEqual([...READ_BOTH, RELEASE_USE1, ...PRIMARY_USW2]);
    const report = readReport(h.workDir);
    expect(report.dnsRelease).toBe("deleted");
    expect(report.steps.find((s) => s.id === "release-dns-use1")?.attempts).toBe(2);
  });

  it("fixes a run that an older drctl left failing at promoting -> primary on the old record", async () => {
    const h = use1Down();
    h.dns.failNext = new Error("Rate exceeded");
    expect((await h.run(...ARGS)).code).toBe(1);
    // What a drctl without the release step left behind: no release record, primary-usw2 failed.
    const state = JSON.parse(readFileSync(STATE(h), "utf8")) as RunState;
    state.steps = state.steps.filter((s) => s.id !== "release-dns-use1");
    const primary = state.steps.find((s) => s.id === "primary-usw2");
    Object.assign(primary ?? {}, { status: "failed", attempts: 1, error: "InvalidChangeBatch" });
    writeFileSync(STATE(h), JSON.stringify(state));

    const r = await h.run(...ARGS);
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, RELEASE_USE1, ...PRIMARY_USW2]);
    expect(readReport(h.workDir).steps.map((s) => s.id)).toEqual([
      "preflight",
      "fence-use1",
      "promote-usw2",
      "release-dns-use1",
      "primary-usw2",
      "check-write-usw2",
      "check-dns-usw2",
    ]);
  });

  it("--plan lists the release and calls nothing, also when resuming after fencing was skipped", async () => {
    const h = use1Down();
    h.dns.failNext = new Error("Rate exceeded");
    expect((await h.run(...ARGS)).code).toBe(1);

    const r = await h.run(...ARGS, "--plan");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, "preview primary", "preview dr"]);
    expect(r.stdout).toContain(
      [
        "  4. release use1's DNS record (delete PRIMARY acme-dr-use1)  [failed]",
        "       Route 53 zone Z0123456789ABCDEFGHIJ: DELETE app.acme-dr.example.com A set identifier acme-dr-use1, if it is PRIMARY",
        "       (only if fencing use1 is skipped: its record would block usw2's becoming PRIMARY)",
        "  5. promote usw2: promoting -> primary",
      ].join("\n"),
    );
    expect(h.zone.records.get(setIdentifier("use1"))).toBe("PRIMARY");
  });

  it("has no release step without dr-stack:dns: the stacks publish no records", async () => {
    const h = use1Down();
    delete h.ops.config.primary["dr-stack:dns"];
    delete h.ops.config.dr["dr-stack:dns"];
    h.ops.zone = undefined;

    const plan = await h.run(...ARGS, "--plan");
    expect(plan.stdout).not.toContain("release");
    const r = await h.run(...ARGS);
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, ...PROMOTING_USW2, ...PRIMARY_USW2]);
    expect(readReport(h.workDir).dnsRelease).toBeUndefined();
  });

  it("is not part of a failback: a planned switchover never skips fencing", async () => {
    const h = harness();
    const plan = await h.run("failback", "--to", "usw2", "--plan");
    expect(plan.stdout).not.toContain("release");
  });
});
