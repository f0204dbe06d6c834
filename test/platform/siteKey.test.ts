import { describe, expect, it } from "vitest";
import {
  callerPrincipalArn,
  KEY_ADMIN_ACTIONS,
  KEY_DESTRUCTIVE_ACTIONS,
  KEY_USE_ACTIONS,
  keyPolicyCallerProblem,
  keyPolicyStepProblems,
  matchesPrincipal,
  siteKeyPolicy,
  siteKeyPolicyDigest,
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

  it("denies deleting, disabling, re-policying the key and repointing or deleting its alias to all but break glass and root", () => {
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
    // S3 replication names the replica key by alias: nobody else may repoint or delete it.
    expect(KEY_DESTRUCTIVE_ACTIONS).toEqual([
      "kms:ScheduleKeyDeletion",
      "kms:DisableKey",
      "kms:PutKeyPolicy",
      "kms:UpdateAlias",
      "kms:DeleteAlias",
    ]);
    // The root user stays able to recover the key if the break-glass role is lost.
    for (const action of KEY_DESTRUCTIVE_ACTIONS)
      expect(keyPolicyAllows(policy, ROOT, action, ROOT), action).toBe(true);
    const deny = policy.Statement as Array<{ Sid: string; Condition?: unknown }>;
    expect(deny.find((st) => st.Sid === "OnlyBreakGlassDestroys")?.Condition).toEqual({
      ArnNotEquals: { "aws:PrincipalArn": [breakGlass, ROOT] },
    });
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

describe("changing the site key's policy (the key-policy step)", () => {
  const breakGlass = "arn:aws:iam::111122223333:role/break-glass";

  it("never sends the policy in an ordinary update: the key's Deny would refuse the deployer", async () => {
    const run = await runStack("primary");
    const key = run.one("aws:kms/key:Key");
    expect(key.ignoreChanges).toEqual(["policy"]);
    expect(run.outputs.siteKeyPolicyDigest).toBe(
      siteKeyPolicyDigest(JSON.parse(key.inputs.policy) as Record<string, unknown>),
    );
    expect(run.invokes.map((i) => i.token)).not.toContain(
      "aws:index/getCallerIdentity:getCallerIdentity",
    );
  });

  it("refuses an ordinary update when the program's policy differs from the applied one, naming the step", () => {
    expect(
      keyPolicyStepProblems(
        { appliedPolicyDigest: "0123456789abcdef" },
        "fedcba9876543210",
        breakGlass,
      ),
    ).toEqual([
      "dr-stack:siteKey.appliedPolicyDigest: this program's site key policy (fedcba9876543210) differs " +
        "from the one applied (0123456789abcdef), and the key's own Deny refuses PutKeyPolicy to " +
        `everyone but ${breakGlass} and the account's root user. Run the key-policy step ` +
        '(docs/runbooks/upgrades.md, "Changing the site key\'s policy"): ' +
        "`pulumi config set --path dr-stack:siteKey.updatePolicy true`, then `pulumi up` with the " +
        `credentials of ${breakGlass}; then ` +
        "`pulumi config set --path dr-stack:siteKey.appliedPolicyDigest fedcba9876543210` and " +
        "`pulumi config rm --path dr-stack:siteKey.updatePolicy`.",
    ]);
    // Same digest, the step itself, a failover or failback, or nothing recorded: no refusal.
    for (const step of [
      { appliedPolicyDigest: "fedcba9876543210" },
      { appliedPolicyDigest: "0123456789abcdef", updatePolicy: true },
      { appliedPolicyDigest: "0123456789abcdef", roleMove: true },
      {},
    ])
      expect(keyPolicyStepProblems(step, "fedcba9876543210", breakGlass)).toEqual([]);
  });

  it("the step runs only as break glass or root: the caller is checked before PutKeyPolicy", async () => {
    const session = "arn:aws:sts::111122223333:assumed-role/platform-admin/pulumi-up";
    expect(keyPolicyCallerProblem(session, breakGlass, ROOT)).toBe(
      "dr-stack:siteKey.updatePolicy: this update replaces the site key's policy, which only " +
        `${breakGlass} or the account's root user may do, but it runs as ${session}. Run it with ` +
        "the break-glass credentials, or `pulumi config rm --path dr-stack:siteKey.updatePolicy` " +
        "to leave the policy as it is.",
    );
    expect(keyPolicyCallerProblem(ROOT, breakGlass, ROOT)).toBeUndefined();
    // The mocked caller is a session of platform-admin (test/support/mocks.ts): as break glass,
    // the step looks the caller up and sends the policy.
    const asBreakGlass = await runStack("primary", {
      siteKey: { updatePolicy: true },
      breakGlassPrincipalArn: "arn:aws:iam::111122223333:role/platform-admin",
    });
    const key = asBreakGlass.one("aws:kms/key:Key");
    expect(key.ignoreChanges).toEqual([]);
    expect(JSON.parse(key.inputs.policy).Statement).toHaveLength(8);
    expect(asBreakGlass.invokes.map((i) => i.token)).toContain(
      "aws:index/getCallerIdentity:getCallerIdentity",
    );
  });

  it("reads a role session as its role, whatever the role's path", () => {
    const session = "arn:aws:sts::111122223333:assumed-role/break-glass/alice";
    expect(callerPrincipalArn(session)).toBe(breakGlass);
    expect(matchesPrincipal(session, "arn:aws:iam::111122223333:role/ops/break-glass")).toBe(true);
    expect(matchesPrincipal(session, "arn:aws:iam::111122223333:role/deployer")).toBe(false);
    expect(matchesPrincipal(session, "arn:aws:iam::444455556666:role/break-glass")).toBe(false);
  });
});
