import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FailoverReport } from "../../drctl/src/failover/report";
import { afterFailover, harness, moveCalls, type Harness } from "./fakes";

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
const FENCE_USW2 = moveCalls("dr", "fenced", "primary");
const PROMOTING_USE1 = moveCalls("primary", "promoting", "standby");
const PRIMARY_USE1 = moveCalls("primary", "primary", "promoting");
const ALL = [
  ...READ_BOTH,
  ...REBUILD_USE1,
  ...REPROTECT_USE1,
  ...FENCE_USW2,
  ...PROMOTING_USE1,
  ...PRIMARY_USE1,
];
const DEPLOYS = [
  "primary role=standby allowRebuild=true",
  "primary role=standby allowRebuild=false",
  "dr role=fenced allowRebuild=false",
  "primary role=promoting allowRebuild=false",
  "primary role=primary allowRebuild=false",
];

function failedOver(): Harness {
  const h = harness();
  afterFailover(h);
  // Once usw2 is fenced no writes arrive, so the rebuilt replica's lag settles at 0.
  h.probes.lag.use1 = 0;
  return h;
}

describe("drctl failback", () => {
  it("rebuilds use1 as standby, re-protects it, waits for lag, then fences usw2 and promotes use1", async () => {
    const h = failedOver();
    h.probes.lagSeries.use1 = [900, 300, 12];
    const r = await h.run("failback", "--to", "use1", "--max-lag", "30s");

    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual(ALL);
    expect(h.ops.deploys).toEqual(DEPLOYS);
    expect(h.probes.sites).toEqual([
      "backup usw2",
      "lag use1",
      "lag use1",
      "lag use1",
      "reachable usw2",
      "lag use1",
      "write use1",
      "dns",
    ]);
    expect(h.ops.config.primary["dr-stack:database"]).toEqual({
      engineVersion: "16",
      instanceClass: "db.r6g.large",
      backupRetentionDays: 14,
    });
    expect(h.ops.role("primary")).toBe("primary");
    expect(h.ops.role("dr")).toBe("fenced");

    const dir = join(h.workDir, ".drctl", "reports");
    const report = JSON.parse(
      readFileSync(join(dir, readdirSync(dir)[0]), "utf8"),
    ) as FailoverReport;
    expect(report.steps.map((s) => [s.id, s.status, s.durationSeconds, s.note])).toEqual([
      ["preflight", "done", 0, "newest backup of usw2 1h00m old"],
      ["rebuild-use1", "done", 600, undefined],
      ["reprotect-use1", "done", 600, undefined],
      ["wait-lag-use1", "done", 60, "replica lag 12s (limit 30s)"],
      ["fence-usw2", "done", 60, undefined],
      ["drain-use1", "done", 0, "replica lag 0s (limit 0s)"],
      ["promote-use1", "done", 240, undefined],
      ["primary-use1", "done", 120, undefined],
      ["check-write-use1", "done", 0, "use1 accepted a write"],
      ["check-dns-use1", "done", 0, "DNS answers with use1"],
    ]);
    expect(report.rto.stepsSeconds).toBe(1680);
    expect(report.rpoSeconds).toBeUndefined();
    expect(report.fencing).toBe("done");
    expect(readdirSync(join(h.workDir, ".drctl", "history"))).toEqual([
      "failback-use1-20250301T120000Z.json",
    ]);
  });

  it("stops with exit 2 when the rebuilt replica does not catch up, and resumes the wait on re-run", async () => {
    const h = failedOver();
    h.probes.lag.use1 = 500;
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
    expect(first.stderr).toContain(
      "step wait-lag-use1 stopped the run: replica lag of use1 is still 500s after 2m00s, over the limit " +
        "of 30s; the replica has not caught up. Re-run the same command to keep " +
        "waiting (it resumes here), or raise --lag-timeout.",
    );
    expect(first.calls).toEqual([...READ_BOTH, ...REBUILD_USE1, ...REPROTECT_USE1]);
    // 2 minutes at one reading every 30 s: readings at 0, 30, 60, 90 and 120 s.
    expect(h.probes.sites.filter((p) => p === "lag use1")).toHaveLength(5);
    expect(h.ops.role("dr")).toBe("primary");

    h.probes.lag.use1 = 0;
    const second = await h.run("failback", "--to", "use1", "--max-lag", "30s");
    expect(second.code).toBe(0);
    expect(second.calls).toEqual([...READ_BOTH, ...FENCE_USW2, ...PROMOTING_USE1, ...PRIMARY_USE1]);
    expect(h.ops.deploys).toEqual(DEPLOYS);
  });

  it("after fencing, waits for lag 0 before detaching the replica", async () => {
    const h = failedOver();
    h.probes.lagSeries.use1 = [5, 1];
    const r = await h.run("failback", "--to", "use1", "--max-lag", "30s");
    expect(r.code).toBe(0);
    // 5 s passes --max-lag; after fencing 1 s does not pass the drain, 0 s does, one 30 s poll later.
    expect(h.probes.sites.filter((p) => p === "lag use1")).toHaveLength(3);
    expect(r.stdout).toMatch(/wait for use1 replica lag 0 \(last writes applied\) +done +30s/);
  });

  it("never skips fencing: an unreachable usw2 stops the switchover with exit 1", async () => {
    const h = failedOver();
    h.probes.reachable.usw2 = false;
    const r = await h.run("failback", "--to", "use1");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "step fence-usw2 stopped the run: cannot fence usw2: the region of usw2 does not answer. A planned " +
        "switchover never skips fencing. Restore access and re-run this command; if usw2 is lost, move " +
        "the state file aside and run drctl failover --to use1.",
    );
    expect(r.calls).toEqual([...READ_BOTH, ...REBUILD_USE1, ...REPROTECT_USE1]);
    expect(h.ops.role("dr")).toBe("primary");
  });

  const failures: [string, string, string[]][] = [
    [
      "rebuild-use1",
      "up primary",
      [...REBUILD_USE1, ...REPROTECT_USE1, ...FENCE_USW2, ...PROMOTING_USE1, ...PRIMARY_USE1],
    ],
    [
      "reprotect-use1",
      "rm --path primary dr-stack:database.allowRebuild",
      [...REPROTECT_USE1, ...FENCE_USW2, ...PROMOTING_USE1, ...PRIMARY_USE1],
    ],
    ["fence-usw2", "up dr", [...FENCE_USW2, ...PROMOTING_USE1, ...PRIMARY_USE1]],
    ["promote-use1", "set primary dr-stack:role=promoting", [...PROMOTING_USE1, ...PRIMARY_USE1]],
    ["primary-use1", "set primary dr-stack:role=primary", PRIMARY_USE1],
  ];
  it.each(failures)("a failure at %s resumes from that step", async (step, call, rest) => {
    const h = failedOver();
    h.ops.failOn = call;
    const first = await h.run("failback", "--to", "use1");
    expect(first.code).toBe(1);
    expect(first.stderr).toContain(`step ${step} stopped the run: injected failure at "${call}"`);
    const second = await h.run("failback", "--to", "use1");
    expect(second.code).toBe(0);
    expect(second.calls).toEqual([...READ_BOTH, ...rest]);
    expect(h.ops.deploys.slice(-3)).toEqual(DEPLOYS.slice(-3));
  });

  it("--plan lists the rebuild, the lag wait and the switchover, and only reads", async () => {
    const h = failedOver();
    const r = await h.run("failback", "--to", "use1", "--plan");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([...READ_BOTH, "preview primary", "preview dr"]);
    expect(h.probes.sites).toEqual([]);
    expect(r.stdout).toContain(
      [
        "  2. rebuild use1 as standby of usw2 (replaces its database)",
        "       pulumi config set --path dr-stack:database.allowRebuild true --stack primary",
        "       pulumi config set dr-stack:role standby --stack primary",
        "       pulumi config set --path dr-stack:database.previousRole fenced --stack primary",
        "       pulumi up --stack primary",
        "       pulumi config rm --path dr-stack:database.previousRole --stack primary",
        "  3. re-protect use1: remove database.allowRebuild",
        "       pulumi config rm --path dr-stack:database.allowRebuild --stack primary",
        "       pulumi up --stack primary",
        "  4. wait for use1 replica lag under the limit",
        "  5. fence usw2: primary -> fenced",
        "       pulumi config set dr-stack:role fenced --stack dr",
        "       pulumi config set --path dr-stack:database.previousRole primary --stack dr",
        "       pulumi up --stack dr",
        "       pulumi config rm --path dr-stack:database.previousRole --stack dr",
        "       (never skipped: the run stops if usw2 cannot be fenced)",
        "  6. wait for use1 replica lag 0 (last writes applied)",
        "  7. promote use1: standby -> promoting (detach replica)",
      ].join("\n"),
    );
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
