import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunState } from "../../drctl/src/failover/stateFile";
import { harness, moveCalls, type Harness } from "./fakes";

const READ_BOTH = ["getAllConfig primary", "getAllConfig dr"];
const PROMOTING_USW2 = moveCalls("dr", "promoting", "standby", [
  "set --path dr dr-stack:peerLinks=false",
]);
const PRIMARY_USW2 = moveCalls("dr", "primary", "promoting");
const ARGS = ["failover", "--to", "usw2", "--check-timeout", "20s"];

interface Case {
  readonly step: string;
  readonly inject: (h: Harness) => void;
  readonly heal: (h: Harness) => void;
  readonly error: string;
  readonly firstCalls: string[];
  readonly secondCalls: string[];
}

const cases: Case[] = [
  {
    step: "promote-usw2",
    inject: (h) => (h.ops.failOn = "up dr"),
    heal: () => undefined,
    error: 'injected failure at "up dr"',
    // The up failed, so the declaration stays for the retry: no rm after it.
    firstCalls: [...READ_BOTH, "outputs primary", ...PROMOTING_USW2.slice(0, -1)],
    secondCalls: [...READ_BOTH, ...PROMOTING_USW2, ...PRIMARY_USW2, "outputs dr"],
  },
  {
    step: "primary-usw2",
    inject: (h) => (h.ops.failOn = "set dr dr-stack:role=primary"),
    heal: () => undefined,
    error: 'injected failure at "set dr dr-stack:role=primary"',
    firstCalls: [
      ...READ_BOTH,
      "outputs primary",
      ...PROMOTING_USW2,
      "select dr",
      "set dr dr-stack:role=primary",
    ],
    secondCalls: [...READ_BOTH, ...PRIMARY_USW2, "outputs dr"],
  },
  {
    step: "check-write-usw2",
    inject: (h) => (h.sites.writeBroken = true),
    heal: (h) => (h.sites.writeBroken = false),
    error:
      "check usw2 takes a write did not pass within 20s (--check-timeout): cannot execute CREATE TABLE " +
      "in a read-only transaction. Fix the cause (see the runbook) and re-run the same command; it resumes here.",
    firstCalls: [
      ...READ_BOTH,
      "outputs primary",
      ...PROMOTING_USW2,
      ...PRIMARY_USW2,
      "outputs dr",
      "outputs dr",
      "outputs dr",
    ],
    secondCalls: [...READ_BOTH, "outputs dr"],
  },
  {
    step: "check-dns-usw2",
    inject: (h) => (h.sites.healthy.usw2 = false),
    heal: (h) => (h.sites.healthy.usw2 = true),
    error:
      "check DNS answers with usw2 did not pass within 20s (--check-timeout): DNS answers with neither " +
      "site, expected usw2.",
    firstCalls: [...READ_BOTH, "outputs primary", ...PROMOTING_USW2, ...PRIMARY_USW2, "outputs dr"],
    secondCalls: READ_BOTH,
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
    expect(first.stderr).toContain(
      `progress is saved in ${statePath}; re-running the same command resumes at ${c.step}`,
    );
    const state = JSON.parse(readFileSync(statePath, "utf8")) as RunState;
    expect(state.steps.find((s) => s.status === "failed")?.id).toBe(c.step);

    c.heal(h);
    const second = await h.run(...ARGS);
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expect(second.calls).toEqual(c.secondCalls);
    // The fence is not repeated on resume: it is done.
    expect(second.world.filter((w) => /Site=use1|fence use1/.test(w))).toEqual([]);
    expect(h.ops.deploys).toEqual([
      "dr role=promoting allowRebuild=false peerLinks=false",
      "dr role=primary allowRebuild=false peerLinks=false",
    ]);
    expect(second.stdout).toContain(
      "resuming the failover to usw2 started 2025-03-01T12:00:00.000Z",
    );
    expect(existsSync(statePath)).toBe(false);
  });

  it("counts a retried step's attempts and time in the report", async () => {
    const h = harness();
    h.ops.failOn = "up dr";
    await h.run(...ARGS);
    const second = await h.run(...ARGS);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/peerLinks false\) {2}done {6}4m00s \(2 attempts\)/);
  });

  it("refuses to resume a state file for another direction or target, saying what to do", async () => {
    const h = harness();
    h.ops.failOn = "up dr";
    expect((await h.run(...ARGS)).code).toBe(1);
    const statePath = join(h.workDir, ".drctl", "failover-usw2.json");

    const back = await h.run("failback", "--to", "usw2");
    expect(back.code).toBe(64);
    expect(back.stderr).toContain(
      `${statePath} holds an unfinished failover to usw2 started 2025-03-01T12:00:00.000Z, not a ` +
        `failback to usw2. Finish it first (re-run its command), or if it was abandoned, move the ` +
        `file aside to start over.`,
    );

    const other = await h.run("failover", "--to", "use1");
    expect(other.code).toBe(64);
    expect(other.stderr).toContain(
      `an unfinished run is recorded in ${statePath}; finish it first`,
    );

    const reconnect = await h.run("failover", "reconnect", "--to", "usw2");
    expect(reconnect.code).toBe(64);
    expect(reconnect.stderr).toContain(
      `an unfinished run is recorded in ${statePath}; finish it first`,
    );
    expect([...back.calls, ...other.calls, ...reconnect.calls]).toEqual([]);
  });
});
