import { describe, expect, it } from "vitest";
import { runStack, STACK_ROLES } from "../harness";

describe("S3 Batch Replication role (drctl failover reconnect)", () => {
  it("trusts S3 Batch Operations for this account only", async () => {
    const run = await runStack("dr");
    const role = run.one("aws:iam/role:Role", "acme-dr-usw2-batch-repl");
    expect(role.inputs.name).toBe("acme-dr-usw2-s3-batch-repl");
    // "Granting permissions for Batch Operations", trust policy; aws:SourceAccount against the
    // confused deputy. https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html
    expect(JSON.parse(role.inputs.assumeRolePolicy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "batchoperations.s3.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: { StringEqualsIfExists: { "aws:SourceAccount": "111122223333" } },
        },
      ],
    });
    expect(run.outputs.batchReplicationRoleArn).toBe(
      "arn:aws:iam::111122223333:role/acme-dr-usw2-s3-batch-repl",
    );
  });

  it("holds the S3 guide's generated-manifest policy, scoped to the site's bucket and report prefix", async () => {
    const run = await runStack("dr");
    const bucket = "arn:aws:s3:::acme-dr-usw2-backups-111122223333";
    const reports = `${bucket}/reports/batch-replication/*`;
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-policies.html
    expect(
      JSON.parse(run.one("aws:iam/rolePolicy:RolePolicy", "acme-dr-usw2-batch-repl").inputs.policy),
    ).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "InitiateReplication",
          Effect: "Allow",
          Action: ["s3:InitiateReplication"],
          Resource: [`${bucket}/*`],
        },
        {
          Sid: "GenerateManifest",
          Effect: "Allow",
          Action: ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
          Resource: [bucket],
        },
        {
          Sid: "ReadManifest",
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:GetObjectVersion"],
          Resource: [reports],
        },
        {
          Sid: "WriteReportAndManifest",
          Effect: "Allow",
          Action: ["s3:PutObject"],
          Resource: [reports],
        },
        {
          Sid: "EncryptReportWithSiteKey",
          Effect: "Allow",
          Action: ["kms:GenerateDataKey", "kms:Decrypt"],
          Resource: [run.outputs.kmsKeyArn],
          Condition: { StringEquals: { "kms:ViaService": "s3.us-west-2.amazonaws.com" } },
        },
      ],
    });
  });

  it("exists, unchanged, in every role of both stacks (docs/architecture.md §2b)", async () => {
    for (const [stack, role] of STACK_ROLES) {
      const run = await runStack(stack, { role });
      const site = stack === "primary" ? "use1" : "usw2";
      const r = run.one("aws:iam/role:Role", `acme-dr-${site}-batch-repl`);
      expect(r.inputs.name, `${stack} ${role}`).toBe(`acme-dr-${site}-s3-batch-repl`);
      expect(run.outputs.batchReplicationRoleArn).toBe(
        `arn:aws:iam::111122223333:role/acme-dr-${site}-s3-batch-repl`,
      );
    }
  });
});
