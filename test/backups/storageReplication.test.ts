import { describe, expect, it } from "vitest";
import { runStack, type StackRun } from "../harness";

const REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig";
const USE1_BUCKET_ARN = "arn:aws:s3:::acme-dr-use1-backups-111122223333";
const USW2_BUCKET_ARN = "arn:aws:s3:::acme-dr-usw2-backups-111122223333";

function replicationRole(run: StackRun) {
  const role = run.ofType("aws:iam/role:Role").find((r) => r.name.endsWith("-replication-role"));
  if (!role) throw new Error("no replication role");
  const policy = run
    .ofType("aws:iam/rolePolicy:RolePolicy")
    .find((p) => p.name.endsWith("-replication-role-policy"));
  if (!policy) throw new Error("no replication role policy");
  return {
    role,
    policyResource: policy,
    trust: JSON.parse(role.inputs.assumeRolePolicy),
    policy: JSON.parse(policy.inputs.policy),
  };
}

function statement(policy: any, sid: string): any {
  const hit = policy.Statement.find((s: any) => s.Sid === sid);
  if (!hit) throw new Error(`no statement ${sid}`);
  return hit;
}

function actions(policy: any): string[] {
  return policy.Statement.flatMap((s: any) => [s.Action].flat());
}

describe("replication from the primary stack (use1 → usw2)", () => {
  let run: StackRun;
  const primary = async () => (run ??= await runStack("primary"));

  it("registers exactly one replication config, on its own bucket, after versioning", async () => {
    const r = await primary();
    const rc = r.one(REPLICATION);
    expect(rc.inputs.bucket).toBe("acme-dr-use1-backups-111122223333");
    expect(rc.inputs.region).toBe("us-east-1");
    const { role } = replicationRole(r);
    expect(rc.inputs.role).toBe(`arn:aws:iam::111122223333:role/${role.id}`);
    expect(rc.dependsOn).toContain(r.one("aws:s3/bucketVersioning:BucketVersioning").urn);
    expect(rc.dependsOn).toContain(replicationRole(r).policyResource.urn);
  });

  it("has one V2 rule: all objects, SSE-KMS selected, RTC and metrics at 15, no delete markers", async () => {
    const r = await primary();
    expect(r.one(REPLICATION).inputs.rules).toEqual([
      {
        id: "backups-use1-to-usw2",
        status: "Enabled",
        priority: 1,
        // An empty prefix (every key), the form AWS reads back; `{}` would diff on every `up`.
        filter: { prefix: "" },
        deleteMarkerReplication: { status: "Disabled" },
        sourceSelectionCriteria: {
          sseKmsEncryptedObjects: { status: "Enabled" },
          replicaModifications: { status: "Enabled" },
        },
        destination: {
          bucket: USW2_BUCKET_ARN,
          storageClass: "STANDARD",
          encryptionConfiguration: {
            replicaKmsKeyId: "arn:aws:kms:us-west-2:111122223333:alias/acme-dr-usw2",
          },
          replicationTime: { status: "Enabled", time: { minutes: 15 } },
          metrics: { status: "Enabled", eventThreshold: { minutes: 15 } },
        },
      },
    ]);
  });

  it("uses the rule id that the replication alarms watch", async () => {
    const r = await primary();
    const ruleId = r.one(REPLICATION).inputs.rules[0].id;
    const alarms = r
      .ofType("aws:cloudwatch/metricAlarm:MetricAlarm")
      .filter((a) => a.inputs.namespace === "AWS/S3");
    expect(alarms.map((a) => a.inputs.metricName).sort()).toEqual([
      "OperationsFailedReplication",
      "ReplicationLatency",
    ]);
    for (const alarm of alarms) {
      expect(alarm.inputs.dimensions).toEqual({
        SourceBucket: "acme-dr-use1-backups-111122223333",
        DestinationBucket: "acme-dr-usw2-backups-111122223333",
        RuleId: ruleId,
      });
    }
  });

  it("names the role by naming.ts, under IAM's 64-character limit", async () => {
    const { role } = replicationRole(await primary());
    expect(role.inputs.name).toBe("acme-dr-use1-s3-repl-to-usw2");
    expect(await primary().then((r) => r.outputs.backupReplicationRoleArn)).toBe(
      "arn:aws:iam::111122223333:role/acme-dr-use1-s3-repl-to-usw2",
    );
  });

  it("lets only S3 acting for this account assume the role", async () => {
    // aws:SourceAccount against the confused deputy; the S3 replication guide documents no
    // aws:SourceArn for this role, so none is required.
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    const { trust } = replicationRole(await primary());
    expect(trust.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "s3.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEqualsIfExists: { "aws:SourceAccount": "111122223333" } },
      },
    ]);
  });

  it("grants no wildcard action and no ReplicateDelete", async () => {
    const { policy } = replicationRole(await primary());
    const all = actions(policy);
    expect(all.length).toBeGreaterThan(0);
    for (const action of all) {
      expect(action).toMatch(/^[a-z0-9]+:[A-Za-z]+$/);
      expect(action).not.toContain("*");
    }
    expect(all).not.toContain("s3:ReplicateDelete");
    expect(policy.Statement.every((s: any) => s.Effect === "Allow")).toBe(true);
  });

  it("reads config and versions on the source, replicates objects and tags to the peer", async () => {
    const { policy } = replicationRole(await primary());
    expect(statement(policy, "ReadSourceReplicationConfig")).toMatchObject({
      Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
      Resource: USE1_BUCKET_ARN,
    });
    expect(statement(policy, "ReadSourceVersions")).toMatchObject({
      Action: [
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging",
        "s3:GetObjectRetention",
        "s3:GetObjectLegalHold",
      ],
      Resource: `${USE1_BUCKET_ARN}/*`,
    });
    expect(statement(policy, "WriteReplicas")).toMatchObject({
      Action: ["s3:ReplicateObject", "s3:ReplicateTags"],
      Resource: `${USW2_BUCKET_ARN}/*`,
    });
  });

  it("decrypts with the site key via S3 in us-east-1 and encrypts with the peer key via S3 in us-west-2", async () => {
    const r = await primary();
    const { policy } = replicationRole(r);
    const key = r.one("aws:kms/key:Key");
    expect(statement(policy, "DecryptSourceObjects")).toEqual({
      Sid: "DecryptSourceObjects",
      Effect: "Allow",
      Action: "kms:Decrypt",
      Resource: `arn:aws:kms:us-east-1:111122223333:key/${key.id}`,
      Condition: {
        StringEquals: { "kms:ViaService": "s3.us-east-1.amazonaws.com" },
        StringLike: {
          "kms:EncryptionContext:aws:s3:arn": [USE1_BUCKET_ARN, `${USE1_BUCKET_ARN}/*`],
        },
      },
    });
    // With S3 Bucket Keys on the destination, the replica key needs kms:Decrypt as well as
    // kms:Encrypt (S3 user guide, replicating encrypted objects; issue 13 finding 6).
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
    expect(statement(policy, "EncryptReplicasWithPeerKey")).toEqual({
      Sid: "EncryptReplicasWithPeerKey",
      Effect: "Allow",
      Action: ["kms:Encrypt", "kms:Decrypt"],
      Resource: "arn:aws:kms:us-west-2:111122223333:key/*",
      Condition: {
        StringEquals: { "kms:ViaService": "s3.us-west-2.amazonaws.com" },
        "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/acme-dr-usw2" },
        StringLike: {
          "kms:EncryptionContext:aws:s3:arn": [USW2_BUCKET_ARN, `${USW2_BUCKET_ARN}/*`],
        },
      },
    });
  });

  it("reads retention and legal hold too, Object Lock being on by default", async () => {
    // "Using Object Lock with S3 Replication": the role needs s3:GetObjectRetention and
    // s3:GetObjectLegalHold on the source. https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
    const { policy } = replicationRole(await primary());
    expect(statement(policy, "ReadSourceVersions").Action).toEqual([
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectVersionAcl",
      "s3:GetObjectVersionTagging",
      "s3:GetObjectRetention",
      "s3:GetObjectLegalHold",
    ]);
  });

  it("writes replicas in the configured storage class", async () => {
    const r = await runStack("primary", { storage: { replicationStorageClass: "STANDARD_IA" } });
    expect(r.one(REPLICATION).inputs.rules[0].destination.storageClass).toBe("STANDARD_IA");
  });

  it("with peerLinks off creates no replication config but keeps the role and its policy (C1)", async () => {
    const r = await runStack("primary", { peerLinks: false });
    expect(r.ofType(REPLICATION)).toEqual([]);
    const { role, policy } = replicationRole(r);
    expect(role.inputs.name).toBe("acme-dr-use1-s3-repl-to-usw2");
    expect(statement(policy, "WriteReplicas").Resource).toBe(`${USW2_BUCKET_ARN}/*`);
  });
});

describe("destination-only roles", () => {
  it.each(["standby", "promoting", "fenced"] as const)(
    "a %s site registers no outbound replication config, but its role and policy exist",
    async (role) => {
      const r = await runStack("dr", { role });
      expect(r.ofType(REPLICATION)).toEqual([]);
      // Pre-provisioned (docs/architecture.md §2b): promotion and reconnect change no IAM resource.
      const { role: iamRole, policy } = replicationRole(r);
      expect(iamRole.inputs.name).toBe("acme-dr-usw2-s3-repl-to-use1");
      expect(statement(policy, "WriteReplicas").Resource).toBe(`${USE1_BUCKET_ARN}/*`);
      // Still a full backup bucket: the destination of the primary's replication.
      expect(r.one("aws:s3/bucket:Bucket").inputs.bucket).toBe("acme-dr-usw2-backups-111122223333");
      expect(
        r.one("aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration,
      ).toEqual({ status: "Enabled" });
    },
  );

  it("a fenced primary stack stops replicating", async () => {
    const r = await runStack("primary", { role: "fenced" });
    expect(r.ofType(REPLICATION)).toEqual([]);
  });
});

describe("after a failover: the dr stack as primary (usw2 → use1)", () => {
  it("replicates back to the use1 bucket, re-encrypting with the use1 key", async () => {
    const r = await runStack("dr", { role: "primary" });
    const rc = r.one(REPLICATION);
    expect(rc.inputs.bucket).toBe("acme-dr-usw2-backups-111122223333");
    expect(rc.inputs.region).toBe("us-west-2");
    expect(rc.inputs.rules[0].id).toBe("backups-usw2-to-use1");
    const dest = rc.inputs.rules[0].destination;
    expect(dest.bucket).toBe(USE1_BUCKET_ARN);
    expect(dest.encryptionConfiguration).toEqual({
      replicaKmsKeyId: "arn:aws:kms:us-east-1:111122223333:alias/acme-dr-use1",
    });
    expect(rc.inputs.rules[0].deleteMarkerReplication).toEqual({ status: "Disabled" });
    const { policy } = replicationRole(r);
    expect(statement(policy, "WriteReplicas").Resource).toBe(`${USE1_BUCKET_ARN}/*`);
    expect(statement(policy, "DecryptSourceObjects").Condition.StringEquals).toEqual({
      "kms:ViaService": "s3.us-west-2.amazonaws.com",
    });
    expect(statement(policy, "EncryptReplicasWithPeerKey")).toMatchObject({
      Resource: "arn:aws:kms:us-east-1:111122223333:key/*",
      Condition: {
        StringEquals: { "kms:ViaService": "s3.us-east-1.amazonaws.com" },
        "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/acme-dr-use1" },
      },
    });
  });

  it("has the same replication role and policy document in standby as in primary (no IAM change)", async () => {
    const standby = replicationRole(await runStack("dr", { role: "standby" }));
    const primary = replicationRole(await runStack("dr", { role: "primary" }));
    expect(standby.role.inputs).toEqual(primary.role.inputs);
    expect(standby.policy).toEqual(primary.policy);
  });
});
