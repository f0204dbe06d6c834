import { CreateJobCommand, S3ControlClient } from "@aws-sdk/client-s3-control";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { batchReplicationRoleArn } from "../../components/naming";
import { AwsSites } from "../../drctl/src/failover/awsSites";
import type { Topology } from "../../drctl/src/failover/topology";

describe("the Batch Replication job's role (AwsSites, against the S3 Control SDK's command stream)", () => {
  const topology = {
    sites: [
      { site: "use1", stack: "primary", region: "us-east-1", role: "fenced" },
      { site: "usw2", stack: "dr", region: "us-west-2", role: "primary" },
    ],
    config: { name: "acme-dr", accountId: "111122223333", partition: "aws" },
  } as unknown as Topology;
  // AwsSites holds no stack operations at all: the role is named, not looked up in any state.

  async function createJob(env: NodeJS.ProcessEnv) {
    const s3control = mockClient(S3ControlClient);
    s3control.on(CreateJobCommand).resolves({ JobId: "job-42" });
    try {
      const job = await new AwsSites(topology, env).startBatchReplication(
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

describe("the master secrets preflight compares (AwsSites, against the Secrets Manager SDK)", () => {
  const topology = {
    sites: [
      { site: "use1", stack: "primary", region: "us-east-1", role: "primary" },
      { site: "usw2", stack: "dr", region: "us-west-2", role: "standby" },
    ],
    config: { name: "acme-dr", accountId: "111122223333", partition: "aws" },
  } as unknown as Topology;

  it("reads use1's secret by its name in us-west-2 (its replica there) and keeps the RDS JSON fields", async () => {
    const sm = mockClient(SecretsManagerClient);
    const regions: string[] = [];
    sm.on(GetSecretValueCommand).callsFake(async (input: { SecretId: string }, getClient) => {
      regions.push(await getClient().config.region());
      // AWS's RDS secret JSON structure:
      // https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_secret_json_structure.html
      return {
        Name: input.SecretId,
        SecretString: JSON.stringify({
          engine: "postgres",
          host: "acme-dr-use1-pg.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
          username: "dradmin",
          password: "not-printed",
          dbname: "app",
          port: 5432,
        }),
      };
    });
    try {
      const fields = await new AwsSites(topology, {}).masterSecret(
        "use1",
        "us-west-2",
        new AbortController().signal,
      );
      expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
        { SecretId: "acme-dr-use1/db/master" },
      ]);
      expect(regions).toEqual(["us-west-2"]);
      expect(fields).toEqual({
        host: "acme-dr-use1-pg.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
        port: 5432,
        username: "dradmin",
        dbname: "app",
      });
    } finally {
      sm.restore();
    }
  });
});
