import { afterEach, describe, expect, it } from "vitest";
import { dbInstanceUrn } from "../../drctl/src/failover/plan";
import { runStack } from "../harness";
import { harness, readReport, type Harness } from "./fakes";

/**
 * After the plan has run, Pulumi reconciles: both stacks' config says what the plan did, the
 * surviving stack's next `up` changes only primary-only settings in its own region, and the `up`
 * after that is empty. Then reconnect, a failback that ends with use1's traffic on, the rebuild
 * of usw2, and the next regional loss.
 */
let h: Harness;
afterEach(() => h?.restore());

const DR_URN =
  "urn:pulumi:dr::dr-stack::drstack:database:Database$aws:rds/instance:Instance::acme-dr-usw2-db";

async function failedOver(): Promise<Harness> {
  h = harness();
  h.world.down.add("us-east-1");
  h.route53.endpoint.use1 = false;
  const r = await h.run("failover", "--to", "usw2");
  expect(r.code).toBe(0);
  return h;
}

describe("the reconcile's refresh target", () => {
  it("is the URN the program gives usw2's RDS instance", async () => {
    expect(dbInstanceUrn("dr", "acme-dr-usw2")).toBe(DR_URN);
    const run = await runStack("dr");
    expect(run.resources.filter((r) => r.urn === DR_URN).map((r) => r.type)).toEqual([
      "aws:rds/instance:Instance",
    ]);
  }, 120_000);
});

describe("drctl failover reconcile --to usw2", () => {
  it("reads the promoted instance back, then moves stack dr promoting -> primary; the next up is empty", async () => {
    await failedOver();
    const r = await h.run("failover", "reconcile", "--to", "usw2");

    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([
      "getAllConfig primary",
      "getAllConfig dr",
      `refresh dr ${DR_URN}`,
      "select dr",
      "set dr dr-stack:role=primary",
      "set --path dr dr-stack:database.previousRole=promoting",
      "set --path dr dr-stack:peerLinks=false",
      "up dr",
      "rm --path dr dr-stack:database.previousRole",
      "preview dr",
      "select primary",
      "set primary dr-stack:role=fenced",
      "set --path primary dr-stack:database.previousRole=primary",
    ]);
    expect(h.ops.deployedRole("usw2")).toBe("primary");
    expect(h.ops.config.dr["dr-stack:peerLinks"]).toBe(false);
    // The old stack is declared, not updated: its update needs us-east-1 (reconnect).
    expect(h.ops.deployedRole("use1")).toBe("primary");
    expect(h.ops.config.primary["dr-stack:role"]).toBe("fenced");
    // Nothing went to us-east-1.
    expect(h.world.to("us-east-1")).toEqual([]);
    expect(readReport(h.workDir, "reconcile").nextSteps).toEqual([
      "when us-east-1 answers again: drctl failover reconnect --to usw2 (updates stack primary to " +
        "fenced, restores the links into us-east-1, starts S3 Batch Replication)",
    ]);

    // A second reconcile finds nothing to do, and the stack's next preview is empty.
    const again = await h.run("failover", "reconcile", "--to", "usw2");
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      "stack dr already says usw2 is primary and use1 is fenced: nothing to reconcile\n",
    );
    expect(await h.ops.preview("dr", new AbortController().signal)).toEqual({ same: 42 });
  });

  it("an up without the refresh fails as the provider fails it (PromoteReadReplica on a promoted instance)", async () => {
    await failedOver();
    h.ops.config.dr["dr-stack:role"] = "primary";
    h.ops.config.dr["dr-stack:database"] = { previousRole: "promoting" };
    await expect(h.ops.up("dr", new AbortController().signal)).rejects.toThrow(
      "promoting RDS DB Instance (acme-dr-usw2-pg): InvalidDBInstanceState: not a read replica",
    );
  });

  it("stops before changing any config while usw2 is still a replica (the plan has not promoted)", async () => {
    h = harness();
    const r = await h.run("failover", "reconcile", "--to", "usw2", "--check-timeout", "30s");

    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "check usw2 is promoted: it takes a write did not pass within 30s (--check-timeout): " +
        "cannot execute CREATE TABLE in a read-only transaction.",
    );
    expect(r.calls).toEqual(["getAllConfig primary", "getAllConfig dr"]);
    expect(h.ops.config.dr["dr-stack:role"]).toBe("standby");
  });
});

describe("after the reconcile", () => {
  it("reconnect, failback to use1 (ends with use1's traffic on), rebuild usw2, then us-east-1 lost again", async () => {
    await failedOver();
    expect((await h.run("failover", "reconcile", "--to", "usw2")).code).toBe(0);
    h.world.down.clear();
    h.route53.endpoint.use1 = true;

    const reconnect = await h.run("failover", "reconnect", "--to", "usw2");
    expect(reconnect.code).toBe(0);
    expect(h.ops.deployedRole("use1")).toBe("fenced");
    expect(h.ops.deployed.dr["dr-stack:peerLinks"]).toBe(true);
    expect(h.sites.jobs).toBe(1);

    // The rebuilt replica reports itself caught up.
    h.sites.replica.use1 = {
      lastReplayAt: new Date("2025-03-01T13:00:00.000Z"),
      replayLsn: "0/9000000",
      receiveLsn: "0/9000000",
    };
    const failback = await h.run("failback", "--to", "use1");
    expect(failback.stderr).toBe("");
    expect(failback.code).toBe(0);
    const e = h.regionSwitch.executions[1];
    expect(e).toMatchObject({ activate: "us-east-1", mode: "graceful", state: "completed" });
    // Graceful: the fence ran on usw2 before use1's promotion.
    expect(h.route53.fenced.has("usw2")).toBe(true);
    expect(h.ops.deployedRole("use1")).toBe("primary");
    expect(h.ops.deployedRole("usw2")).toBe("fenced");
    expect(h.route53.regionSwitch).toEqual({ use1: true, usw2: false });
    expect(h.route53.answer()).toBe("use1");
    expect(readReport(h.workDir, "failback").steps.map((s) => s.id)).toEqual([
      "preflight",
      "rebuild-use1",
      "reprotect-use1",
      "wait-lag-use1",
      "region-switch-use1",
      "check-write-use1",
      "refresh-use1",
      "settle-use1",
      "empty-preview-use1",
      "fence-config-usw2",
      "fence-stack-usw2",
      "batch-replication-use1",
      "check-dns-use1",
    ]);

    h.sites.replica.usw2 = {
      lastReplayAt: new Date("2025-03-01T14:00:00.000Z"),
      replayLsn: "0/A000000",
      receiveLsn: "0/A000000",
    };
    const rebuild = await h.run("failover", "rebuild", "--to", "usw2");
    expect(rebuild.code).toBe(0);
    expect(h.ops.deployedRole("usw2")).toBe("standby");
    expect(h.aws.replicaOf.usw2).toBe("use1");

    // usw2's Region switch check is off since the failback: us-east-1 lost now.
    h.world.down.add("us-east-1");
    h.route53.endpoint.use1 = false;
    expect(h.route53.answer()).toBe("use1");
    const again = await h.run("failover", "--to", "usw2");
    expect(again.code).toBe(0);
    expect(h.route53.answer()).toBe("usw2");
  });
});
