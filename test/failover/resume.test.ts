import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunState } from "../../drctl/src/failover/stateFile";
import { harness, moveCalls, type Harness } from "./fakes";

const READ_BOTH = ["getAllConfig primary", "getAllConfig dr"];
const FENCE_USE1 = moveCalls("primary", "fenced", "primary");
const PROMOTING_USW2 = moveCalls("dr", "promoting", "standby");
const PRIMARY_USW2 = moveCalls("dr", "primary", "promoting");
const ARGS = ["failover", "--to", "usw2", "--check-timeout", "20s"];

interface Case {
  readonly step: string;
  readonly inject: (h: Harness) => void;
  readonly heal: (h: Harness) => void;
  readonly error: string;
  readonly firstCalls: string[];
  readonly secondCalls: string[];
  readonly secondProbes: string[];
}

const cases: Case[] = [
  {
    step: "preflight",
    inject: (h) => (h.probes.failLagOnce = true),
    heal: () => undefined,
    error: "CloudWatch throttled the request",
    firstCalls: READ_BOTH,
    secondCalls: [...READ_BOTH, ...FENCE_USE1, ...PROMOTING_USW2, ...PRIMARY_USW2],
    secondProbes: ["lag usw2", "backup usw2", "reachable use1", "write usw2", "dns"],
  },
  {
    step: "fence-use1",
    inject: (h) => (h.ops.failOn = "up primary"),
    heal: () => undefined,
    error: 'injected failure at "up primary"',
    // The up failed, so the declaration stays for the retry: no rm after it.
    firstCalls: [...READ_BOTH, ...FENCE_USE1.slice(0, -1)],
    secondCalls: [...READ_BOTH, ...FENCE_USE1, ...PROMOTING_USW2, ...PRIMARY_USW2],
    secondProbes: ["reachable use1", "write usw2", "dns"],
  },
  {
    step: "promote-usw2",
    inject: (h) => (h.ops.failOn = "up dr"),
    heal: () => undefined,
    error: 'injected failure at "up dr"',
    firstCalls: [...READ_BOTH, ...FENCE_USE1, ...PROMOTING_USW2.slice(0, -1)],
    secondCalls: [...READ_BOTH, ...PROMOTING_USW2, ...PRIMARY_USW2],
    secondProbes: ["write usw2", "dns"],
  },
  {
    step: "primary-usw2",
    inject: (h) => (h.ops.failOn = "set dr dr-stack:role=primary"),
    heal: () => undefined,
    error: 'injected failure at "set dr dr-stack:role=primary"',
    firstCalls: [
      ...READ_BOTH,
      ...FENCE_USE1,
      ...PROMOTING_USW2,
      "select dr",
      "set dr dr-stack:role=primary",
    ],
    secondCalls: [...READ_BOTH, ...PRIMARY_USW2],
    secondProbes: ["write usw2", "dns"],
  },
  {
    step: "check-write-usw2",
    inject: (h) => (h.probes.writeBroken = true),
    heal: (h) => (h.probes.writeBroken = false),
    error:
      "check usw2 takes a write did not pass within 20s (--check-timeout): cannot execute CREATE TABLE " +
      "in a read-only transaction. Fix the cause (see the runbook) and re-run the same command; it resumes here.",
    firstCalls: [...READ_BOTH, ...FENCE_USE1, ...PROMOTING_USW2, ...PRIMARY_USW2],
    secondCalls: READ_BOTH,
    secondProbes: ["write usw2", "dns"],
  },
  {
    step: "check-dns-usw2",
    inject: (h) => (h.probes.healthy.usw2 = false),
    heal: (h) => (h.probes.healthy.usw2 = true),
    error:
      "check DNS answers with usw2 did not pass within 20s (--check-timeout): DNS answers with neither " +
      "site, expected usw2.",
    firstCalls: [...READ_BOTH, ...FENCE_USE1, ...PROMOTING_USW2, ...PRIMARY_USW2],
    secondCalls: READ_BOTH,
    secondProbes: ["dns"],
  },
];

describe("drctl failover resumes at the step that failed", () => {
  it.each(cases)("failure at $step", async (c) => {
    const h = harness();
    c.inject(h);
    const first = await h.run(...ARGS);
    expect(first.code).toBe(1);
    expect(first.calls).toEqual(c.firstCalls);
    expect(first.stderr).toContain(`step ${c.step} stopped the run: ${c.error}`);
    const statePath = join(h.workDir, ".drctl", "failover-usw2.json");
    if (c.step === "preflight") {
      // A failed preflight changed nothing, so it leaves no state behind.
      expect(existsSync(statePath)).toBe(false);
    } else {
      expect(first.stderr).toContain(
        `progress is saved in ${statePath}; re-running the same command resumes at ${c.step}`,
      );
      const state = JSON.parse(readFileSync(statePath, "utf8")) as RunState;
      expect(state.steps.find((s) => s.status === "failed")?.id).toBe(c.step);
    }

    c.heal(h);
    h.probes.sites.length = 0;
    const second = await h.run(...ARGS);
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expect(second.calls).toEqual(c.secondCalls);
    expect(h.probes.sites).toEqual(c.secondProbes);
    expect(h.ops.deploys).toEqual([
      "primary role=fenced allowRebuild=false",
      "dr role=promoting allowRebuild=false",
      "dr role=primary allowRebuild=false",
    ]);
    if (c.step !== "preflight") {
      expect(second.stdout).toContain(
        "resuming the failover to usw2 started 2025-03-01T12:00:00.000Z",
      );
    }
    expect(existsSync(statePath)).toBe(false);
  });

  it("counts a retried step's attempts and time in the report", async () => {
    const h = harness();
    h.ops.failOn = "up dr";
    await h.run(...ARGS);
    const second = await h.run(...ARGS);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("promote usw2: standby -> promoting (detach replica)  done");
    expect(second.stdout).toMatch(/promoting \(detach replica\) {2}done {6}4m00s \(2 attempts\)/);
  });

  it("refuses to resume a state file for another direction or target, saying what to do", async () => {
    const h = harness();
    h.ops.failOn = "up dr";
    expect((await h.run(...ARGS)).code).toBe(1);
    const statePath = join(h.workDir, ".drctl", "failover-usw2.json");

    const back = await h.run("failback", "--to", "usw2");
    expect(back.code).toBe(64);
    expect(back.stderr).toMatch(
      new RegExp(
        `${statePath} holds an unfinished failover to usw2 started 2025-03-01T12:00:00.000Z, not a ` +
          `failback to usw2\\. Finish it with drctl failover --to usw2, or if it was abandoned, move the ` +
          `file aside to start over\\.`,
      ),
    );

    const other = await h.run("failover", "--to", "use1");
    expect(other.code).toBe(64);
    expect(other.stderr).toContain(
      `an unfinished run is recorded in ${statePath}; finish it first`,
    );

    const pinned = await h.run("failover", "--to", "use1", "--state-file", statePath);
    expect(pinned.code).toBe(64);
    expect(pinned.stderr).toContain("holds an unfinished failover to usw2");
    expect([...back.calls, ...other.calls, ...pinned.calls]).toEqual([]);
  });
});
