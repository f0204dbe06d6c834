import { describe, expect, it } from "vitest";
import { processesUnder } from "../../rehearsal/cleanup";
import { STEPS } from "../../rehearsal/report";
import { accepts, portsIn, runDrill } from "./run";

const NAMES = STEPS.map((s) => s.name);

describe.each([
  { mode: "async", args: [] as string[] },
  { mode: "sync", args: ["--sync"] },
])("a tiny rehearsal ($mode)", ({ mode, args }) => {
  it("passes every step, measures RTO and RPO, and leaves nothing behind", async () => {
    const { code, report, stderr } = await runDrill(["--size", "5MB", "--json", ...args]);
    expect(report.failure).toBeUndefined();
    expect(code).toBe(0);
    expect(report.mode).toBe(mode);
    expect(report.components.map((c) => c.name)).toEqual(NAMES);
    expect(NAMES).toEqual([
      "primary",
      "standby",
      "workload",
      "backup",
      "crash",
      "failover",
      "rpo",
      "restore",
    ]);
    for (const c of report.components) {
      expect(c.success, c.name).toBe(true);
      expect(c.manual_interventions).toBe(0);
      expect(c.duration_seconds).toBeGreaterThanOrEqual(0);
    }
    expect(report.rto_seconds).toBeGreaterThan(0);
    expect(report.rto_seconds).toBeLessThan(5);
    expect(report.acknowledged_commits).toBeGreaterThan(0);
    if (mode === "sync") expect(report.rpo_commits_lost).toBe(0);
    else expect(report.rpo_commits_lost).toBeGreaterThanOrEqual(0);
    // RPO in seconds: zero with nothing lost; else the lost commits lie inside it.
    if (report.rpo_commits_lost === 0) {
      expect(report.rpo_seconds).toBe(0);
      expect(report.rpo_lost_window).toBeNull();
    } else {
      const w = report.rpo_lost_window as {
        from_seconds_before_crash: number;
        to_seconds_before_crash: number;
      };
      expect(w.from_seconds_before_crash).toBeGreaterThanOrEqual(w.to_seconds_before_crash);
      expect(report.rpo_seconds as number).toBeGreaterThanOrEqual(w.from_seconds_before_crash);
    }
    expect(report.integrity_pass_rate).toBe(1);
    expect(report.components.find((c) => c.name === "restore")?.integrity_pass_rate).toBe(1);
    expect(report.manual_interventions).toBe(0);
    expect(report.sizes.dataset_bytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(report.sizes.backup_bytes).toBeGreaterThan(0);
    expect(report.passed).toBe(true);

    // Nothing left: no process under the run directory, no port still accepting.
    expect(processesUnder(report.run_dir!)).toEqual([]);
    const ports = portsIn(stderr);
    expect(ports.length).toBe(2);
    for (const port of ports) expect(await accepts(port)).toBe(false);
  }, 120_000);
});
