import { describe, expect, it } from "vitest";
import { processesUnder } from "../../rehearsal/cleanup";
import { parseOptions, parseSize, UsageError } from "../../rehearsal/options";
import { runDrill } from "./run";

describe("injected faults produce a failing report with a reason, not a crash", () => {
  it.each([
    { fault: "standby-stuck", step: "standby", reason: /did not reach state streaming/ },
    { fault: "backup-missing", step: "backup", reason: /no complete backup/ },
    { fault: "backup-corrupt", step: "backup", reason: /verify --deep failed/ },
  ])(
    "$fault fails step $step",
    async ({ fault, step, reason }) => {
      const { code, report } = await runDrill(["--size", "2MB", "--standby-timeout", "2"], {
        DRILL_FAULT: fault,
      });
      expect(code).toBe(1);
      expect(report.passed).toBe(false);
      expect(report.failure?.step).toBe(step);
      expect(report.failure?.reason).toMatch(reason);
      const failed = report.components.find((c) => c.name === step)!;
      expect(failed.success).toBe(false);
      expect(failed.error).toMatch(reason);
      const after = report.components.slice(report.components.indexOf(failed) + 1);
      expect(after.every((c) => c.status === "not run" && !c.success)).toBe(true);
      expect(processesUnder(report.run_dir!)).toEqual([]);
    },
    90_000,
  );

  it("rejects an unknown option and a bad size as usage errors (exit 64)", () => {
    expect(() => parseOptions(["--bogus"])).toThrow(UsageError);
    expect(() => parseOptions(["--size", "lots"])).toThrow(/expected e.g. 200MB/);
    expect(parseSize("5MB")).toBe(5 * 1024 * 1024);
  });
});
