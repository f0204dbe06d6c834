import { CreateJobCommand, S3ControlClient } from "@aws-sdk/client-s3-control";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { batchReplicationRoleArn } from "../../components/naming";
import { AwsSites } from "../../drctl/src/failover/awsSites";
import type { StackOps } from "../../drctl/src/failover/ports";
import type { Topology } from "../../drctl/src/failover/topology";
import { harness, moveCalls, readReport, type Harness } from "./fakes";

/** A failover to usw2 made while us-east-1 hung, then us-east-1 comes back. */
async function failedOverInOutage(): Promise<Harness> {
  const h = harness();
  for (const where of ["us-east-1", "stack:primary"]) h.world.faults.set(where, "hang");
  h.sites.healthy.use1 = false;
  const r = await h.run("failover", "--to", "usw2");
  expect(r.code).toBe(0);
  h.world.faults.clear();
  h.sites.healthy.use1 = true;
  return h;
}

describe("drctl failover reconnect --to usw2", () => {
  it("once us-east-1 answers: fences stack primary, switches usw2 on, restores the links, starts Batch Replication", async () => {
    const h = await failedOverInOutage();
    expect(h.ops.deployed.dr["dr-stack:peerLinks"]).toBe(false);
    expect(h.sites.traffic).toEqual({ use1: false, usw2: true });
    const r = await h.run("failover", "reconnect", "--to", "usw2");

    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([
      "getAllConfig primary",
      "getAllConfig dr",
      ...moveCalls("primary", "fenced", "primary"),
      "select dr",
      "set --path dr dr-stack:peerLinks=true",
      "up dr",
    ]);
    expect(r.world.filter((c) => !c.startsWith("stack:"))).toEqual([
      "us-east-1 S3: HeadBucket acme-dr-use1-backups-111122223333",
      "us-east-1 CloudWatch: PutMetricData DrStack/Traffic SiteEnabled=1 Site=usw2",
      "us-west-2 S3 Control: CreateJob S3ReplicateObject usw2",
    ]);
    // The config reconnect sets (contract C1); what the program then creates is P2a's mocked test.
    expect(h.ops.deployed.dr["dr-stack:peerLinks"]).toBe(true);
    expect(h.ops.deployed.dr["dr-stack:role"]).toBe("primary");
    expect(h.ops.deployed.primary["dr-stack:role"]).toBe("fenced");
    expect(h.ops.deploys.slice(-2)).toEqual([
      "primary role=fenced allowRebuild=false peerLinks=true",
      "dr role=primary allowRebuild=false peerLinks=true",
    ]);
    // use1 stays off: its record would otherwise send clients to a fenced database.
    expect(h.sites.traffic).toEqual({ use1: false, usw2: true });

    const report = readReport(h.workDir, "reconnect");
    expect(report.direction).toBe("reconnect");
    expect(report.batchReplicationJob).toEqual({
      jobId: "job-1",
      region: "us-west-2",
      bucket: "acme-dr-usw2-backups-111122223333",
    });
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ["region-back-use1", "done"],
      ["traffic-on-usw2", "done"],
      ["fence-stack-use1", "done"],
      ["links-usw2", "done"],
      ["batch-replication-usw2", "done"],
    ]);
  });

  it("stops at the first step while us-east-1 still does not answer, changing nothing", async () => {
    const h = await failedOverInOutage();
    h.world.faults.set("us-east-1", "5xx");
    const r = await h.run("failover", "reconnect", "--to", "usw2");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "step region-back-use1 stopped the run: ServiceUnavailable: us-east-1 S3 answered 503",
    );
    expect(h.ops.deployed.dr["dr-stack:peerLinks"]).toBe(false);
    expect(h.ops.deployed.primary["dr-stack:role"]).toBe("primary");
  });

  it("passes over the stack reconciliation when the old stack is already fenced", async () => {
    const h = await failedOverInOutage();
    h.ops.config.primary["dr-stack:role"] = "fenced";
    h.ops.deployed.primary["dr-stack:role"] = "fenced";
    const r = await h.run("failover", "reconnect", "--to", "usw2");
    expect(r.code).toBe(0);
    expect(r.calls.filter((c) => c.endsWith(" primary"))).toEqual(["getAllConfig primary"]);
    expect(readReport(h.workDir, "reconnect").steps[2]).toMatchObject({
      id: "fence-stack-use1",
      status: "done",
      note: "stack primary says fenced: nothing to reconcile",
    });
  });
});

describe("the Batch Replication job's role (AwsSites, against the S3 Control SDK's command stream)", () => {
  const topology = {
    sites: [
      { site: "use1", stack: "primary", region: "us-east-1", role: "fenced" },
      { site: "usw2", stack: "dr", region: "us-west-2", role: "primary" },
    ],
    config: { name: "acme-dr", accountId: "111122223333", partition: "aws" },
  } as unknown as Topology;
  // Any read of a stack's outputs fails the test: the role is named, not looked up (DESIGN §2a).
  const ops = {
    outputs: () => Promise.reject(new Error("the role must not come from a stack's outputs")),
  } as unknown as StackOps;

  async function createJob(env: NodeJS.ProcessEnv) {
    const s3control = mockClient(S3ControlClient);
    s3control.on(CreateJobCommand).resolves({ JobId: "job-42" });
    try {
      const job = await new AwsSites(topology, ops, env).startBatchReplication(
        "usw2",
        new AbortController().signal,
      );
      const calls = s3control.commandCalls(CreateJobCommand);
      expect(calls).toHaveLength(1);
      return { job, input: calls[0].args[0].input };
    } finally {
      s3control.restore();
    }
  }

  it("runs as the role the dr stack pre-provisions, named by naming.ts, reporting under reports/", async () => {
    const { job, input } = await createJob({});
    expect(job).toEqual({
      jobId: "job-42",
      region: "us-west-2",
      bucket: "acme-dr-usw2-backups-111122223333",
    });
    // components/backups/batchReplication.ts creates exactly this role in every role of the stack.
    expect(input.RoleArn).toBe("arn:aws:iam::111122223333:role/acme-dr-usw2-s3-batch-repl");
    expect(input.RoleArn).toBe(
      batchReplicationRoleArn(
        { name: "acme-dr", accountId: "111122223333" },
        { site: "usw2", region: "us-west-2" },
      ),
    );
    expect(input.Operation).toEqual({ S3ReplicateObject: {} });
    // The role may write only under this prefix (its policy's WriteReportAndManifest statement).
    expect(input.Report).toMatchObject({
      Bucket: "arn:aws:s3:::acme-dr-usw2-backups-111122223333",
      Prefix: "reports/batch-replication",
    });
  });

  it("takes DRCTL_BATCH_REPLICATION_ROLE_ARN as an override", async () => {
    const override = "arn:aws:iam::111122223333:role/break-glass-batch";
    const { input } = await createJob({ DRCTL_BATCH_REPLICATION_ROLE_ARN: override });
    expect(input.RoleArn).toBe(override);
  });
});
