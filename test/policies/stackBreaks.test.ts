import type { PolicyResource } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { evaluate, type EvaluatedResource } from "../../policies/evaluate";
import { isJobRole } from "../../policies/lib/jobRole";
import { policies } from "../../policies/rules";
import { runStack, type RegisteredResource } from "../harness";

/**
 * Each protection rule over what a real stack registered, broken the way a changed component
 * would break it: the pack then reports that rule's violation, and only it, on top of whatever
 * the unbroken stack reports (docs/architecture.md §6: a broken stack fails the rule that guards it).
 */

type Break = (resources: RegisteredResource[]) => RegisteredResource[];

const edit = (
  resources: RegisteredResource[],
  pick: (r: RegisteredResource) => boolean,
  change: (inputs: any) => void,
): RegisteredResource[] => {
  const hits = resources.filter(pick);
  if (hits.length === 0) throw new Error("no resource to break");
  return resources.map((r) => {
    if (!hits.includes(r)) return r;
    const inputs = structuredClone(r.inputs);
    change(inputs);
    return { ...r, inputs };
  });
};

const editJson = (prop: string, change: (doc: any) => void) => (inputs: any) => {
  const doc = JSON.parse(inputs[prop]);
  change(doc);
  inputs[prop] = JSON.stringify(doc);
};

/** The first inline policy of a role pods assume (policies/lib/jobRole.ts decides which). */
const jobPolicy = (resources: RegisteredResource[]) => {
  const roles = resources
    .filter((r) => r.type === "aws:iam/role:Role")
    .filter((r) => isJobRole({ props: r.inputs } as unknown as PolicyResource))
    .map((r) => r.urn);
  const first = resources.find(
    (r) =>
      r.type === "aws:iam/rolePolicy:RolePolicy" &&
      (r.propertyDependencies.role ?? []).some((u) => roles.includes(u)),
  );
  return (r: RegisteredResource) => r === first;
};

const cron = (key: string) => (r: RegisteredResource) =>
  r.type === "kubernetes:batch/v1:CronJob" && r.inputs.metadata?.name === key;

const setEnv = (name: string, value: string) => (inputs: any) => {
  const c = inputs.spec.jobTemplate.spec.template.spec.containers[0];
  c.env = c.env.map((e: any) => (e.name === name ? { name, value } : e));
};

interface Case {
  readonly rule: string;
  readonly change: string;
  readonly stack: "primary" | "dr";
  readonly apply: Break;
  /** The message of the one violation the break adds. */
  readonly message: RegExp;
}

const BREAKS: Case[] = [
  {
    rule: "dr-s3-bucket-versioning",
    change: "versioning suspended",
    stack: "primary",
    apply: (rs) =>
      edit(
        rs,
        (r) => r.type === "aws:s3/bucketVersioning:BucketVersioning",
        (i) => (i.versioningConfiguration.status = "Suspended"),
      ),
    message: /has versioning Suspended/,
  },
  {
    rule: "dr-s3-bucket-object-lock",
    change: "default retention 1 day",
    stack: "dr",
    apply: (rs) =>
      edit(
        rs,
        (r) => r.type === "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        (i) => (i.rule.defaultRetention.days = 1),
      ),
    message: /default retention is 1 days/,
  },
  {
    rule: "dr-kubernetes-cronjob-object-lock-days",
    change: "monthly backups locked 300 days",
    stack: "primary",
    apply: (rs) => edit(rs, cron("backup-monthly"), setEnv("DRCTL_OBJECT_LOCK_DAYS", "300")),
    message:
      /DRCTL_OBJECT_LOCK_DAYS "300"; .* keeps monthly backups 365 days, so set it to at least 365/,
  },
  {
    rule: "dr-s3-bucket-create-only",
    change: "the conditional-write deny removed",
    stack: "primary",
    apply: (rs) =>
      edit(
        rs,
        (r) => r.type === "aws:s3/bucketPolicy:BucketPolicy",
        editJson("policy", (d) => {
          d.Statement = d.Statement.filter((s: any) => !s.Condition?.Null?.["s3:if-none-match"]);
        }),
      ),
    message: /does not refuse overwrites under daily\/, weekly\/, monthly\/, pre-restore\//,
  },
  {
    rule: "dr-backup-vault-locked",
    change: "vault lock in governance mode",
    stack: "dr",
    apply: (rs) =>
      edit(
        rs,
        (r) => r.type === "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        (i) => delete i.changeableForDays,
      ),
    message: /lock is in governance mode/,
  },
  {
    rule: "dr-iam-role-job-no-delete",
    change: "a job role allowed s3:DeleteObjectVersion",
    stack: "primary",
    apply: (rs) =>
      edit(
        rs,
        jobPolicy(rs),
        editJson("policy", (d) => {
          d.Statement[0].Action = [...[d.Statement[0].Action].flat(), "s3:DeleteObjectVersion"];
        }),
      ),
    message: /allows s3:DeleteObjectVersion, which grants \*:Delete\*/,
  },
  {
    rule: "dr-iam-role-job-no-master-secret",
    change: "a job role allowed to read every secret",
    stack: "dr",
    apply: (rs) =>
      edit(
        rs,
        jobPolicy(rs),
        editJson("policy", (d) =>
          d.Statement.push({
            Effect: "Allow",
            Action: "secretsmanager:GetSecretValue",
            Resource: "*",
          }),
        ),
      ),
    message: /lets it read secrets matching \*, which includes the database master secret/,
  },
  {
    rule: "dr-kubernetes-cronjob-database-tls",
    change: "daily backups with sslmode require",
    stack: "dr",
    apply: (rs) => edit(rs, cron("backup-daily"), setEnv("PGSSLMODE", "require")),
    message: /PGSSLMODE "require", which does not verify the server/,
  },
];

const key = (v: { policyName: string; urn?: string; message: string }) =>
  `${v.policyName} ${v.urn ?? ""} ${v.message}`;

describe("each protection rule fails a real stack broken where it guards", () => {
  it.each(BREAKS.map((b) => ({ ...b, file: `Pulumi.${b.stack}.yaml` })))(
    "$rule: $change ($file)",
    async (b) => {
      const { resources } = await runStack(b.stack);
      const before = new Set((await evaluate(policies, resources as EvaluatedResource[])).map(key));
      const after = await evaluate(policies, b.apply(resources));
      const added = after.filter((v) => !before.has(key(v)));
      expect(added.map((v) => v.policyName)).toEqual([b.rule]);
      expect(added[0].message).toMatch(b.message);
    },
  );
});
