import { describe, expect, it } from "vitest";
import type { Role } from "../../components/config";
import { runProgram, runStack, stackConfig, type StackName, type StackRun } from "../harness";
import { evaluateRules, NAME_RULES, nameProblem, RULES, type SiteRun } from "./rules";

/**
 * The AWS rules module (test/aws/rules.ts) over every resource of both stacks in every role,
 * and proof that each rule fails on the finding it was written for (issue 13: findings 1, 3, 6
 * and 10) when that fix is reverted.
 */

const REGION: Record<StackName, string> = { primary: "us-east-1", dr: "us-west-2" };
const PEER: Record<StackName, StackName> = { primary: "dr", dr: "primary" };
/** The role the peer holds while this site holds `role` (docs/failover.md). */
const COUNTERPART: Record<Role, Role> = {
  primary: "standby",
  standby: "primary",
  promoting: "fenced",
  fenced: "primary",
};

const only = (...ids: string[]) => RULES.filter((r) => ids.includes(r.id));

const cache = new Map<string, StackRun>();
async function site(stack: StackName, role: Role, overrides = {}): Promise<SiteRun> {
  const key = `${stack}/${role}/${JSON.stringify(overrides)}`;
  let run = cache.get(key);
  if (!run) {
    run = await runStack(stack, { role, ...overrides });
    cache.set(key, run);
  }
  return { run, accountId: "111122223333", partition: "aws", region: REGION[stack] };
}

/** A copy of `s` whose resource `name` (of `type`) has `patch` applied to its inputs. */
function mutate(
  s: SiteRun,
  type: string,
  patch: (inputs: Record<string, any>) => Record<string, any>,
): SiteRun {
  const resources = s.run.resources.map((r) =>
    r.type === type ? { ...r, inputs: patch(structuredClone(r.inputs)) } : r,
  );
  return {
    ...s,
    run: Object.assign(Object.create(Object.getPrototypeOf(s.run)), s.run, { resources }),
  };
}

describe("AWS rules: both stacks in every role", () => {
  it("every rule links its source", () => {
    for (const r of RULES) expect(r.source, r.id).toMatch(/https:\/\/|terraform-|pulumi-/);
  });

  for (const stack of ["primary", "dr"] as const) {
    for (const role of ["primary", "standby", "promoting", "fenced"] as const) {
      it(`${stack} as ${role} (peer ${COUNTERPART[role]}): no finding`, async () => {
        const self = await site(stack, role);
        const peer = await site(PEER[stack], COUNTERPART[role]);
        expect(evaluateRules(self, peer)).toEqual([]);
      });
    }
  }
});

describe("the rules fail when a fix is reverted", () => {
  it("finding 1: a replica of a source whose password Secrets Manager manages", async () => {
    const primary = mutate(await site("primary", "primary"), "aws:rds/instance:Instance", (i) => ({
      ...i,
      manageMasterUserPassword: true,
    }));
    const standby = await site("dr", "standby");
    expect(
      evaluateRules(standby, primary, only("rds-replica-of-managed-password")).map(
        (f) => f.message,
      ),
    ).toEqual([
      "acme-dr-usw2-db: is a read replica of acme-dr-use1-pg, whose master password Secrets Manager " +
        "manages (manageMasterUserPassword); RDS refuses to create a read replica of such a source",
    ]);
  });

  it("finding 3: the backups replication keyed by the peer's alias ARN", async () => {
    const primary = mutate(
      await site("primary", "primary"),
      "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
      (i) => ({ ...i, kmsKeyId: "arn:aws:kms:us-west-2:111122223333:alias/acme-dr-usw2" }),
    );
    expect(
      evaluateRules(primary, await site("dr", "standby"), only("kms-key-arn-not-alias")).map(
        (f) => f.message,
      ),
    ).toEqual([
      'acme-dr-use1-db-backups-to-us-west-2: kmsKeyId is "arn:aws:kms:us-west-2:111122223333:alias/acme-dr-usw2", ' +
        "not a key ARN; AWS stores and reads back the key ARN (arn:…:kms:<region>:<account>:key/<id>), " +
        "so the next up plans a replacement of this ForceNew input",
    ]);
  });

  it("finding 6: S3 replication with Bucket Keys and no kms:Decrypt on the replica key", async () => {
    const primary = mutate(
      await site("primary", "primary"),
      "aws:iam/rolePolicy:RolePolicy",
      (i) => {
        if (typeof i.policy !== "string") return i;
        const doc = JSON.parse(i.policy);
        for (const s of doc.Statement)
          if (Array.isArray(s.Action))
            s.Action = s.Action.filter((a: string) => a !== "kms:Decrypt");
        return { ...i, policy: JSON.stringify(doc) };
      },
    );
    const messages = evaluateRules(primary, await site("dr", "standby")).map((f) => f.message);
    expect(messages.filter((m) => m.includes("kms:Decrypt"))).toEqual([
      expect.stringMatching(
        /^acme-dr-use1-backups-replication\S*: the replication role arn:aws:iam::111122223333:role\/\S+ has no IAM permission to kms:Decrypt with arn:aws:kms:us-west-2:111122223333:/,
      ),
    ]);
  });

  it("finding 10: RDS names with -- or a trailing -, a flow-log role without DescribeLogGroups, another partition", async () => {
    const base = await site("primary", "primary");
    const peer = await site("dr", "standby");
    const ident = mutate(base, "aws:rds/instance:Instance", (i) => ({
      ...i,
      identifier: "acme--use1-pg",
      finalSnapshotIdentifier: "acme-use1-pg-",
    }));
    expect(evaluateRules(ident, peer, only("names")).map((f) => f.message)).toEqual([
      'acme-dr-use1-db: DB instance identifier "acme--use1-pg" contains "--", which RDS refuses',
      'acme-dr-use1-db: final DB snapshot identifier "acme-use1-pg-" ends with "-", which RDS refuses',
    ]);
    const flow = mutate(base, "aws:iam/rolePolicy:RolePolicy", (i) => {
      if (typeof i.policy !== "string" || !i.policy.includes("logs:DescribeLogGroups")) return i;
      const doc = JSON.parse(i.policy);
      doc.Statement = doc.Statement.filter(
        (s: { Action: string[] }) => !s.Action.includes("logs:DescribeLogGroups"),
      );
      return { ...i, policy: JSON.stringify(doc) };
    });
    expect(evaluateRules(flow, peer, only("flow-log-role")).map((f) => f.message)).toEqual([
      "acme-dr-use1-net-flow-logs: its role lacks logs:DescribeLogGroups (the VPC user guide's minimum)",
    ]);
    const gov = { ...base, partition: "aws-us-gov" };
    expect(
      evaluateRules(
        gov,
        peer,
        RULES.filter((r) => r.id === "partition-arns"),
      )[0]?.message,
    ).toMatch(/names an ARN in partition aws, not the stack's aws-us-gov$/);
  });

  it("finding 10: every name fits at the config's longest project and site names", async () => {
    // 20-character project, 10-character sites: the longest names the config accepts.
    const base = stackConfig("primary");
    const sites = base["dr-stack:sites"] as Record<string, unknown>;
    const config = {
      ...base,
      "dr-stack:name": "abcdefghij-klmnopqrs",
      "dr-stack:site": "siteaaaaa1",
      "dr-stack:sites": { siteaaaaa1: sites.use1, sitebbbbb2: sites.usw2 },
      "dr-stack:dns": { ...(base["dr-stack:dns"] as object), primarySite: "siteaaaaa1" },
      "dr-stack:regionSwitch": { ownerSite: "siteaaaaa1" },
    };
    const run = await runProgram(config, "primary");
    const self: SiteRun = { run, accountId: "111122223333", partition: "aws", region: "us-east-1" };
    expect(
      evaluateRules(
        self,
        self,
        RULES.filter((r) => r.id === "names"),
      ),
    ).toEqual([]);
    const longest = Math.max(...run.ofType("aws:iam/role:Role").map((r) => r.id.length));
    expect(longest).toBeLessThanOrEqual(64);
    expect(
      nameProblem(
        NAME_RULES.find((r) => r.type === "aws:iam/role:Role")!,
        "x".repeat(65),
      ),
    ).toBe(`IAM role name "${"x".repeat(65)}" is 65 characters; AWS allows at most 64`);
  });
});
