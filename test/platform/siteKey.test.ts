import { describe, expect, it } from "vitest";
import {
  KEY_ADMIN_ACTIONS,
  KEY_DESTRUCTIVE_ACTIONS,
  KEY_USE_ACTIONS,
  siteKeyPolicy,
} from "../../components/platform/siteKey";
import { runStack } from "../harness";
import { keyPolicyAllows } from "../aws/rules";

const ROOT = "arn:aws:iam::111122223333:root";

describe("site key policy (issue 16.5, 13.6)", () => {
  it("separates use from administration and keeps destruction for break glass", async () => {
    const run = await runStack("dr");
    const key = run.one("aws:kms/key:Key");
    const doc = JSON.parse(key.inputs.policy);
    const bySid = Object.fromEntries(doc.Statement.map((s: { Sid: string }) => [s.Sid, s]));
    expect(bySid.UseThroughIamPolicies.Action).toEqual([...KEY_USE_ACTIONS]);
    expect(bySid.Administer.Action).toEqual([...KEY_ADMIN_ACTIONS]);
    // No statement both uses and administers.
    for (const s of doc.Statement as Array<{ Action: string[] }>) {
      const uses = s.Action.some((a) => a === "kms:Decrypt" || a === "kms:Encrypt");
      const administers = s.Action.some((a) => a === "kms:Put*" || a === "kms:ScheduleKeyDeletion");
      expect(uses && administers).toBe(false);
    }
    // Unset breakGlassPrincipalArn: the account's root user.
    expect(bySid.OnlyBreakGlassDestroys).toEqual({
      Sid: "OnlyBreakGlassDestroys",
      Effect: "Deny",
      Principal: { AWS: "*" },
      Action: [...KEY_DESTRUCTIVE_ACTIONS],
      Resource: "*",
      Condition: { ArnNotEquals: { "aws:PrincipalArn": ROOT } },
    });
    // KMS's lockout check would refuse a policy the deployer cannot PutKeyPolicy on afterwards.
    expect(key.inputs.bypassPolicyLockoutSafetyCheck).toBe(true);
    expect(key.retainOnDelete).toBe(true);
  });

  it("denies ScheduleKeyDeletion, DisableKey and PutKeyPolicy to all but the configured principal", () => {
    const breakGlass = "arn:aws:iam::111122223333:role/break-glass";
    const policy = siteKeyPolicy({
      region: "us-west-2",
      accountId: "111122223333",
      partition: "aws",
      adminPrincipalArns: [],
      breakGlassPrincipalArn: breakGlass,
      peerReplicationRoleArn: "arn:aws:iam::111122223333:role/acme-dr-use1-s3-repl-to-usw2",
    });
    const admin = "arn:aws:iam::111122223333:role/platform-admin";
    for (const action of KEY_DESTRUCTIVE_ACTIONS) {
      expect(keyPolicyAllows(policy, admin, action, ROOT), action).toBe(false);
      expect(keyPolicyAllows(policy, breakGlass, action, ROOT), action).toBe(true);
    }
    expect(keyPolicyAllows(policy, admin, "kms:CancelKeyDeletion", ROOT)).toBe(true);
  });

  it("lets the peer's S3 replication role Encrypt and Decrypt (S3 Bucket Keys), named before it exists", async () => {
    const run = await runStack("dr");
    const doc = JSON.parse(run.one("aws:kms/key:Key").inputs.policy);
    const stmt = doc.Statement.find(
      (s: { Sid: string }) => s.Sid === "PeerS3ReplicationWritesReplicas",
    );
    // The role is the primary's (created in step 1 of the first deployment; KMS refuses a policy
    // whose Principal does not exist, so it is named in a condition).
    expect(stmt).toEqual({
      Sid: "PeerS3ReplicationWritesReplicas",
      Effect: "Allow",
      Principal: { AWS: ROOT },
      Action: ["kms:Encrypt", "kms:Decrypt"],
      Resource: "*",
      Condition: {
        ArnEquals: {
          "aws:PrincipalArn": "arn:aws:iam::111122223333:role/acme-dr-use1-s3-repl-to-usw2",
        },
      },
    });
  });

  it("is the same in every role and with peerLinks off: only break glass could change it later", async () => {
    const policies = await Promise.all(
      [
        runStack("dr"),
        runStack("dr", { role: "promoting", database: { previousRole: "standby" } }),
        runStack("dr", {
          role: "primary",
          peerLinks: false,
          database: { previousRole: "promoting" },
        }),
      ].map(async (r) => (await r).one("aws:kms/key:Key").inputs.policy),
    );
    expect(new Set(policies).size).toBe(1);
  });
});
