import { afterAll, describe, expect, it } from "vitest";
import { runStack, type StackName, type StackRun } from "../harness";
import { ROTATED_PASSWORDS } from "../support/mocks";
import { DAY2_RULES } from "./day2Rules";
import { stepDiff } from "./day2Walk";
import { evaluateRules, RULES } from "./rules";

/**
 * The day-2 walk, beside the first deployment's (firstDeployment.test.ts): a deployed pair takes
 * the updates of docs/runbooks/upgrades.md in order (rotate the master password, change the site
 * key's policy, upgrade PostgreSQL minor then major, upgrade EKS and the node AMI), each a
 * mocked `pulumi up` of one stack with the config the runbook sets. Each step's diff is asserted
 * exactly (what is updated or replaced, in which region), every AWS rule (rules.ts,
 * day2Rules.ts) holds on its result, and each refusal the runbook names is refused with its
 * message before anything is registered.
 */

const SITE: Record<StackName, { region: string; peer: StackName }> = {
  primary: { region: "us-east-1", peer: "dr" },
  dr: { region: "us-west-2", peer: "primary" },
};
/** The config each stack carries between steps (the runbook's `pulumi config set`s). */
const config: Record<StackName, Record<string, unknown>> = {
  primary: { database: { manageRoles: true, adminCidrs: ["10.99.0.0/24"] } },
  dr: {},
};
const last = new Map<StackName, StackRun>();

function set(stack: StackName, patch: Record<string, unknown>): void {
  const merged = { ...config[stack] };
  for (const [k, v] of Object.entries(patch))
    merged[k] =
      v && typeof v === "object" && !Array.isArray(v) ? { ...(merged[k] as object), ...v } : v;
  config[stack] = merged;
}

/** One `pulumi up` of `stack`: its diff against its last run; every rule holds on the result. */
async function up(stack: StackName) {
  const run = await runStack(stack, config[stack]);
  const before = last.get(stack);
  last.set(stack, run);
  const peer = last.get(SITE[stack].peer);
  if (peer) {
    const self = { run, accountId: "111122223333", partition: "aws", region: SITE[stack].region };
    const other = {
      run: peer,
      accountId: "111122223333",
      partition: "aws",
      region: SITE[SITE[stack].peer].region,
    };
    expect(evaluateRules(self, other, [...RULES, ...DAY2_RULES])).toEqual([]);
  }
  return { run, diff: before ? stepDiff(before, run) : [] };
}

const SLOW = 600_000;
const db = (site: string) => `aws:rds/instance:Instance acme-dr-${site}-db`;
const params = (site: string) => `aws:rds/parameterGroup:ParameterGroup acme-dr-${site}-db-params`;

afterAll(() => ROTATED_PASSWORDS.clear());

describe("day-2 walk: a deployed pair through a year of updates", () => {
  it(
    "0. the deployed pair, and a second up of each is empty",
    async () => {
      await up("primary");
      await up("dr");
      expect((await up("primary")).diff).toEqual([]);
      expect((await up("dr")).diff).toEqual([]);
    },
    SLOW,
  );

  it(
    "1. rotate the master password: the primary's next up logs in with it, the standby's copy follows",
    async () => {
      // The operator changed the password in RDS, then put it into the primary's secret
      // (docs/runbooks/upgrades.md); Secrets Manager replicates the new version to us-west-2.
      ROTATED_PASSWORDS.set("acme-dr-use1/db/master", "rotated-master-password-0001");
      const primary = await up("primary");
      // Only the PostgreSQL provider's login changes: the instance and the secret keep theirs.
      expect(primary.diff).toEqual([
        {
          resource: "pulumi:providers:postgresql acme-dr-use1-db-roles-pg",
          region: undefined,
          action: "update",
          keys: ["password"],
        },
      ]);
      expect(primary.run.one("pulumi:providers:postgresql").inputs.password).toBe(
        "rotated-master-password-0001",
      );
      const dr = await up("dr");
      // A PutSecretValue on the standby's own secret in its own region, nothing else.
      expect(dr.diff).toEqual([
        {
          resource: "aws:secretsmanager/secretVersion:SecretVersion acme-dr-usw2-db-master",
          region: "us-west-2",
          action: "update",
          keys: ["secretString"],
        },
      ]);
      const copy = JSON.parse(
        dr.run.one("aws:secretsmanager/secretVersion:SecretVersion", "acme-dr-usw2-db-master")
          .inputs.secretString,
      );
      // What the failover preflight compares: both sites' master secrets hold the same password.
      expect(copy.password).toBe("rotated-master-password-0001");
      expect(copy.host).toBe(dr.run.outputs.dbEndpoint);
    },
    SLOW,
  );

  it(
    "2. a release changes the site key's policy: refused as an ordinary up, applied by the break-glass step",
    async () => {
      const applied = last.get("primary")!.outputs.siteKeyPolicyDigest as string;
      set("primary", { siteKey: { appliedPolicyDigest: applied } });
      // The release's change, here the break-glass principal the key's Deny exempts.
      set("primary", { breakGlassPrincipalArn: "arn:aws:iam::111122223333:role/platform-admin" });
      await expect(runStack("primary", config.primary)).rejects.toThrow(
        `dr-stack:siteKey.appliedPolicyDigest: this program's site key policy`,
      );
      set("primary", { siteKey: { updatePolicy: true } });
      const step = await up("primary");
      const key = step.diff.find((c) => c.resource.startsWith("aws:kms/key:Key"));
      expect(key).toEqual({
        resource: "aws:kms/key:Key acme-dr-use1-key",
        region: "us-east-1",
        action: "update",
        keys: ["policy"],
      });
      // Nothing is replaced; the rest of the diff is the same principal in the bucket and vault
      // policies, all in this region or IAM.
      expect(step.diff.filter((c) => c.action !== "update")).toEqual([]);
      expect(step.diff.every((c) => c.region === undefined || c.region === "us-east-1")).toBe(true);
      set("primary", {
        siteKey: { appliedPolicyDigest: step.run.outputs.siteKeyPolicyDigest, updatePolicy: false },
      });
      expect((await up("primary")).diff).toEqual([]);
    },
    SLOW,
  );

  it(
    "3. PostgreSQL minor 16 to 16.6: the standby first, then the primary, each in place",
    async () => {
      const minor = { engineVersion: "16.6", previousEngineVersion: "16" };
      set("dr", { database: minor });
      expect((await up("dr")).diff).toEqual([
        { resource: db("usw2"), region: "us-west-2", action: "update", keys: ["engineVersion"] },
      ]);
      set("primary", { database: minor });
      expect((await up("primary")).diff).toEqual([
        { resource: db("use1"), region: "us-east-1", action: "update", keys: ["engineVersion"] },
      ]);
      // RDS never downgrades.
      await expect(
        runStack("primary", {
          ...config.primary,
          database: {
            ...(config.primary.database as object),
            engineVersion: "16.4",
            previousEngineVersion: "16.6",
          },
        }),
      ).rejects.toThrow(
        "dr-stack:database.engineVersion: 16.4 is older than the deployed 16.6; RDS cannot downgrade an instance.",
      );
    },
    SLOW,
  );

  it(
    "4. PostgreSQL major 16 to 17: the primary in place with a new parameter family, then the standby rebuilt",
    async () => {
      const scratch17 =
        "postgres:17.6@sha256:e62fbf9d3e2b49816a32c400ed2dba83e3b361e6833e624024309c35d334b412";
      const major = { engineVersion: "17", previousEngineVersion: "16.6" };
      // Without AllowMajorVersionUpgrade RDS refuses; the stack refuses first, saying what to set.
      await expect(
        runStack("primary", {
          ...config.primary,
          database: { ...(config.primary.database as object), ...major },
          jobs: { scratchImage: scratch17 },
        }),
      ).rejects.toThrow(
        "dr-stack:database.allowMajorVersionUpgrade: 16.6 to 17 is a major version upgrade, which RDS refuses unless allowed.",
      );
      set("primary", {
        database: { ...major, allowMajorVersionUpgrade: true },
        jobs: { scratchImage: scratch17 },
      });
      const primary = await up("primary");
      const rds = primary.diff.filter((c) => c.resource.startsWith("aws:rds/"));
      expect(rds).toEqual([
        {
          resource: db("use1"),
          region: "us-east-1",
          action: "update",
          keys: ["allowMajorVersionUpgrade", "engineVersion"],
        },
        {
          resource: params("use1"),
          region: "us-east-1",
          action: "replace",
          keys: ["description", "family"],
        },
      ]);
      // The new family's group is created before the old one is deleted (auto-named), so the
      // instance's ModifyDBInstance names a postgres17 group.
      const group = primary.run.one("aws:rds/parameterGroup:ParameterGroup");
      expect(group.inputs.family).toBe("postgres17");
      expect(group.inputs.name).toBeUndefined();
      expect(group.deleteBeforeReplace).toBe(false);

      // The standby: a replica is not upgraded on its own; it is rebuilt from the upgraded primary.
      await expect(
        runStack("dr", { ...config.dr, database: major, jobs: { scratchImage: scratch17 } }),
      ).rejects.toThrow(
        "dr-stack:database.engineVersion: 16.6 to 17 on a standby replaces its replica",
      );
      set("dr", {
        database: { engineVersion: "16.6", previousEngineVersion: undefined, allowRebuild: true },
      });
      expect((await up("dr")).diff).toEqual([
        {
          resource: db("usw2"),
          region: "us-west-2",
          action: "update",
          keys: ["deletionProtection"],
        },
      ]);
      set("dr", { database: { ...major, allowRebuild: true }, jobs: { scratchImage: scratch17 } });
      const rebuild = await up("dr");
      expect(rebuild.diff.filter((c) => c.resource.startsWith("aws:rds/"))).toEqual([
        { resource: db("usw2"), region: "us-west-2", action: "replace", keys: ["engineVersion"] },
        {
          resource: params("usw2"),
          region: "us-west-2",
          action: "replace",
          keys: ["description", "family"],
        },
      ]);
      expect(rebuild.run.one("aws:rds/instance:Instance").inputs.replicateSourceDb).toBe(
        "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg",
      );
      set("dr", {
        database: { engineVersion: "17", previousEngineVersion: undefined, allowRebuild: false },
      });
      expect((await up("dr")).diff).toEqual([
        {
          resource: db("usw2"),
          region: "us-west-2",
          action: "update",
          keys: ["deletionProtection"],
        },
      ]);
      set("primary", {
        database: {
          engineVersion: "17",
          previousEngineVersion: undefined,
          allowMajorVersionUpgrade: false,
        },
      });
      expect((await up("primary")).diff).toEqual([
        {
          resource: db("use1"),
          region: "us-east-1",
          action: "update",
          keys: ["allowMajorVersionUpgrade"],
        },
      ]);
    },
    SLOW,
  );

  it(
    "5. EKS 1.33 to 1.34 and a new node AMI: control plane then nodes, in place, one minor at a time",
    async () => {
      await expect(
        runStack("primary", {
          ...config.primary,
          cluster: { version: "1.35", previousVersion: "1.33" },
        }),
      ).rejects.toThrow("dr-stack:cluster.version: 1.33 to 1.35 skips 1 minor version(s)");
      for (const stack of ["primary", "dr"] as const) {
        const site = stack === "primary" ? "use1" : "usw2";
        set(stack, { cluster: { version: "1.34", previousVersion: "1.33" } });
        expect((await up(stack)).diff).toEqual([
          {
            resource: `aws:eks/cluster:Cluster acme-dr-${site}-eks`,
            region: SITE[stack].region,
            action: "update",
            keys: ["version"],
          },
          {
            resource: `aws:eks/nodeGroup:NodeGroup acme-dr-${site}-eks-nodes`,
            region: SITE[stack].region,
            action: "update",
            keys: ["version"],
          },
        ]);
        set(stack, {
          cluster: {
            version: "1.34",
            previousVersion: undefined,
            nodeReleaseVersion: "1.34.1-20251120",
          },
        });
        expect((await up(stack)).diff).toEqual([
          {
            resource: `aws:eks/nodeGroup:NodeGroup acme-dr-${site}-eks-nodes`,
            region: SITE[stack].region,
            action: "update",
            keys: ["releaseVersion"],
          },
        ]);
      }
    },
    SLOW,
  );
});
