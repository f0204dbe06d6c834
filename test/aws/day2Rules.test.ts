import { beforeAll, describe, expect, it } from "vitest";
import { runStack, type RegisteredResource } from "../harness";
import { DAY2_RULES } from "./day2Rules";
import { evaluateRules, type SiteRun } from "./rules";

/**
 * The later updates' rules (test/aws/day2Rules.ts) hold on the program as it is, and each fails
 * when its fix is reverted to what the program did before: a BYPASSRLS backup login, a key Deny
 * that leaves the alias open or denies the root user too, a key policy every update sends, a
 * secret of username and password only, a provider logging in with the password kept in state,
 * node root volumes without the site key, a Kubernetes provider that waits for the nodes only.
 */

const withRoles = { database: { manageRoles: true, adminCidrs: ["10.99.0.0/24"] } };
let primary: SiteRun;
let dr: SiteRun;

beforeAll(async () => {
  primary = {
    run: await runStack("primary", withRoles),
    accountId: "111122223333",
    partition: "aws",
    region: "us-east-1",
  };
  dr = {
    run: await runStack("dr"),
    accountId: "111122223333",
    partition: "aws",
    region: "us-west-2",
  };
}, 300_000);

/** A copy of `s` with `patch` applied to the resources `match` selects. */
function revert(
  s: SiteRun,
  match: (r: RegisteredResource) => boolean,
  patch: (r: RegisteredResource) => RegisteredResource,
): SiteRun {
  const resources = s.run.resources.map((r) => (match(r) ? patch(structuredClone(r)) : r));
  return {
    ...s,
    run: Object.assign(Object.create(Object.getPrototypeOf(s.run)), s.run, { resources }),
  };
}

const messages = (s: SiteRun, id: string) =>
  evaluateRules(
    s,
    dr,
    DAY2_RULES.filter((r) => r.id === id),
  ).map((f) => f.message);

const isKey = (r: RegisteredResource) => r.type === "aws:kms/key:Key";
/** The key with its Deny statement rewritten by `f`. */
const withDeny = (f: (deny: Record<string, any>) => void) => (r: RegisteredResource) => {
  const doc = JSON.parse(r.inputs.policy);
  f(doc.Statement.find((st: { Sid: string }) => st.Sid === "OnlyBreakGlassDestroys"));
  return { ...r, inputs: { ...r.inputs, policy: JSON.stringify(doc) } };
};

describe("the later updates' rules", () => {
  it("hold on both stacks as they are (primary with manageRoles)", () => {
    expect(evaluateRules(primary, dr, DAY2_RULES)).toEqual([]);
    expect(evaluateRules(dr, primary, DAY2_RULES)).toEqual([]);
  });

  it("a BYPASSRLS backup login: the RDS master cannot create it", () => {
    const reverted = revert(
      primary,
      (r) => r.name === "acme-dr-use1-db-roles-backup",
      (r) => ({ ...r, inputs: { ...r.inputs, bypassRowLevelSecurity: true } }),
    );
    expect(messages(reverted, "rds-master-role-attributes")).toEqual([
      "acme-dr-use1-db-roles-backup: bypassRowLevelSecurity is true; the provider logs in as the " +
        "RDS master (NOSUPERUSER CREATEROLE), which PostgreSQL lets set it only as a superuser (15) " +
        "or as a holder of it (16): CREATE ROLE fails",
    ]);
  });

  it("a Deny without the alias actions: any admin can repoint or delete the alias", () => {
    const reverted = revert(
      primary,
      isKey,
      withDeny(
        (d) => (d.Action = ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"]),
      ),
    );
    expect(messages(reverted, "kms-alias-protected")).toEqual(
      ["kms:UpdateAlias", "kms:DeleteAlias"].map(
        (a) =>
          `acme-dr-use1-key-alias: its key's policy lets any account admin ${a} alias/acme-dr-use1: ` +
          "the alias S3 replication names could be repointed to another key or deleted",
      ),
    );
  });

  it("a Deny that exempts only the break-glass role: the root user cannot recover the key", () => {
    const reverted = revert(
      primary,
      isKey,
      withDeny(
        (d) =>
          (d.Condition = {
            ArnNotEquals: { "aws:PrincipalArn": "arn:aws:iam::111122223333:role/break-glass" },
          }),
      ),
    );
    expect(messages(reverted, "kms-key-policy-recoverable")).toEqual([
      "acme-dr-use1-key: its policy denies kms:PutKeyPolicy to the account's root user: if the one " +
        "principal it exempts is lost, the key can never be managed again",
    ]);
  });

  it("a key policy every update sends: PutKeyPolicy as the deployer, refused by the key", () => {
    const reverted = revert(primary, isKey, (r) => ({ ...r, ignoreChanges: [] }));
    expect(messages(reverted, "kms-key-policy-update-by-deployer")).toEqual([
      "acme-dr-use1-key: an update that changes its policy sends PutKeyPolicy as the deployer " +
        "arn:aws:iam::111122223333:role/platform-admin, which the key's own policy refuses: the up " +
        "fails halfway",
    ]);
  });

  it("a secret of username and password only", () => {
    const reverted = revert(
      primary,
      (r) => r.name === "acme-dr-use1-db-master" && r.type.endsWith("SecretVersion"),
      (r) => ({
        ...r,
        inputs: {
          ...r.inputs,
          secretString: JSON.stringify({ username: "dradmin", password: "p" }),
        },
      }),
    );
    expect(messages(reverted, "secrets-rds-postgres-json")).toEqual([
      "acme-dr-use1-db-master: the credential lacks engine, host, dbname, port, which AWS's JSON " +
        "structure for an RDS PostgreSQL secret has and clients read",
    ]);
  });

  it("a provider logging in with the password kept in state", () => {
    const master = primary.run
      .ofType("aws:secretsmanager/secretVersion:SecretVersion")
      .find((v) => v.name === "acme-dr-use1-db-master")!;
    const kept = JSON.parse(master.inputs.secretString).password as string;
    const reverted = revert(
      primary,
      (r) => r.type === "pulumi:providers:postgresql",
      (r) => ({ ...r, inputs: { ...r.inputs, password: kept } }),
    );
    expect(messages(reverted, "postgresql-provider-current-password")).toEqual([
      "acme-dr-use1-db-roles-pg: logs in with the password this program wrote once and keeps in " +
        "state (ignoreChanges): after a rotation the next up fails to log in; read the secret's " +
        "current value",
    ]);
  });

  it("nodes without the launch template: root volumes on the account's default EBS key", () => {
    const reverted = revert(
      primary,
      (r) => r.type === "aws:eks/nodeGroup:NodeGroup",
      (r) => ({ ...r, inputs: { ...r.inputs, launchTemplate: undefined, diskSize: 80 } }),
    );
    expect(messages(reverted, "eks-node-volumes-site-key")).toEqual([
      "acme-dr-use1-eks-nodes: has no launch template: its root volumes use the account's default EBS key",
    ]);
    const noSlr = revert(primary, isKey, (r) => {
      const doc = JSON.parse(r.inputs.policy);
      doc.Statement = doc.Statement.filter(
        (st: { Sid: string }) => !st.Sid.startsWith("AutoScaling"),
      );
      return { ...r, inputs: { ...r.inputs, policy: JSON.stringify(doc) } };
    });
    expect(messages(noSlr, "eks-node-volumes-site-key")).toEqual(
      ["kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:CreateGrant"].map(
        (a) =>
          `acme-dr-use1-key: does not let EC2 Auto Scaling's service-linked role ${a}: nodes with ` +
          "encrypted root volumes fail to launch",
      ),
    );
  });

  it("a Kubernetes provider that waits for the nodes only", () => {
    const nodeGroup = primary.run.one("aws:eks/nodeGroup:NodeGroup").urn;
    const reverted = revert(
      primary,
      (r) => r.type === "pulumi:providers:kubernetes",
      (r) => ({ ...r, dependsOn: [nodeGroup] }),
    );
    expect(messages(reverted, "eks-kubernetes-provider-after-access")).toEqual([
      "acme-dr-use1-eks-k8s: does not wait for every cluster admin's access policy association: the " +
        "deployer's first Kubernetes call can be refused (Unauthorized) while its access entry has " +
        "no policy",
    ]);
  });
});
