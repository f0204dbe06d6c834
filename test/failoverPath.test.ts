import { describe, expect, it } from "vitest";
import { runStack, type RegisteredResource, type StackName, type StackRun } from "./harness";
import { appliedDiff, keepGeneratedPasswords } from "./support/diff";

/**
 * The failover-path invariant (docs/architecture.md §2b, issue 15): a failover must work the day the region it
 * leaves is down, and while IAM's and Route 53's control planes (both in us-east-1) are impaired.
 * So every update on the path, standby -> promoting -> primary with the config moves drctl makes
 * (`database.previousRole`, `peerLinks: false`), may create, change or delete only resources in
 * the surviving region: no IAM resource, no Route 53 resource, nothing in any other region.
 * Links back into the old region return in a separate reconnect update (`peerLinks: true`).
 *
 * The diff is of registered inputs, what `pulumi preview` compares; a resource that is the same
 * in both runs needs no call at all (`pulumi up` does not refresh by default).
 * https://www.pulumi.com/docs/iac/concepts/how-pulumi-works/
 */

type Kind = "create" | "update" | "delete";

interface Change {
  readonly kind: Kind;
  readonly type: string;
  readonly name: string;
  /** Where its API lives: a region, or "global" for IAM and Route 53 (control plane in us-east-1). */
  readonly where: string;
  /** Changed input keys (update only). */
  readonly keys: readonly string[];
}

/**
 * IAM and Route 53 are global services whose control planes (create/update/delete) run in
 * us-east-1 only; their data planes are what survives a regional event.
 * https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/global-services.html
 * A Region switch plan is in no region (its ARN has none), and creating or updating it is not
 * a data-plane operation; executing it is
 * (https://docs.aws.amazon.com/r53recovery/latest/dg/actions.region-switch.html).
 */
const GLOBAL_SERVICES = ["aws:iam/", "aws:route53/", "aws:arcregionswitch/"];

/** Where a registered resource's API calls go. */
function whereOf(r: RegisteredResource, stackRegion: string): string | undefined {
  // Component resources make no call of their own.
  if (!r.type.includes(":") || r.type.startsWith("drstack:")) return undefined;
  if (GLOBAL_SERVICES.some((p) => r.type.startsWith(p))) return "global";
  // aws v7: an explicit `region` input, else the provider's (the stack's aws:region).
  if (r.type.startsWith("aws:") || r.type === "pulumi:providers:aws") {
    return typeof r.inputs.region === "string" ? r.inputs.region : stackRegion;
  }
  // Kubernetes objects live in the site's own cluster; other providers talk to the site's own
  // endpoints (the database) — both in the stack's region.
  return stackRegion;
}

/** What `pulumi up` from `before`'s state to `after`'s config would create, update or delete. */
function changesBetween(before: StackRun, after: StackRun, stackRegion: string): Change[] {
  const old = new Map(before.resources.map((r) => [r.urn, r]));
  const now = new Map(keepGeneratedPasswords(before, after).map((r) => [r.urn, r]));
  const out: Change[] = [];
  const add = (kind: Kind, r: RegisteredResource, keys: string[] = []) => {
    const where = whereOf(r, stackRegion);
    if (where !== undefined) out.push({ kind, type: r.type, name: r.name, where, keys });
  };
  for (const [urn, r] of now) {
    const prev = old.get(urn);
    if (!prev) add("create", r);
    else {
      // What the engine applies: properties under ignoreChanges (generated passwords) keep
      // their old values, so they are no update.
      const keys = appliedDiff(prev, r).map((c) => c.key);
      if (keys.length > 0) add("update", r, keys);
    }
  }
  for (const [urn, r] of old) if (!now.has(urn)) add("delete", r);
  return out;
}

/** One line per change, for a failure that lists exactly what moved. */
const line = (c: Change) =>
  `${c.kind} ${c.type} ${c.name} (${c.where})${c.keys.length ? ` [${c.keys.join(", ")}]` : ""}`;

/** The changes a failover update must not make. */
function violations(changes: readonly Change[], survivingRegion: string): string[] {
  return changes
    .filter((c) => c.where !== survivingRegion)
    .map(line)
    .sort();
}

interface Path {
  readonly stack: StackName;
  readonly region: string;
  readonly peerRegion: string;
  /** The site's own names, for the reconnect assertions. */
  readonly stem: string;
  readonly peerStem: string;
  /** The config the surviving stack has deployed before the failover. */
  readonly standby: Record<string, unknown>;
}

const PATHS: Path[] = [
  {
    stack: "dr",
    region: "us-west-2",
    peerRegion: "us-east-1",
    stem: "acme-dr-usw2",
    peerStem: "acme-dr-use1",
    standby: {},
  },
  {
    // Failing over the other way: use1, rebuilt as usw2's standby by a failback, takes over.
    stack: "primary",
    region: "us-east-1",
    peerRegion: "us-west-2",
    stem: "acme-dr-use1",
    peerStem: "acme-dr-usw2",
    standby: { role: "standby" },
  },
];

/** The config moves drctl makes, each applied over the stack file (drctl/src/failover/plan.ts). */
const PROMOTING = { role: "promoting", database: { previousRole: "standby" }, peerLinks: false };
const PRIMARY = { role: "primary", database: { previousRole: "promoting" }, peerLinks: false };
const RECONNECTED = { role: "primary", peerLinks: true };

describe.each(PATHS)("failover path of the $stack stack (survivor: $region)", (p) => {
  const runs: Partial<Record<"standby" | "promoting" | "primary" | "reconnected", StackRun>> = {};
  const run = async (step: keyof typeof runs, overrides: Record<string, unknown>) =>
    (runs[step] ??= await runStack(p.stack, { ...p.standby, ...overrides }));

  it("standby -> promoting touches only the surviving region, no IAM, no Route 53", async () => {
    const before = await run("standby", {});
    const after = await run("promoting", PROMOTING);
    const changes = changesBetween(before, after, p.region);
    // The promotion itself: the replica is detached in place (same URN, an update).
    expect(changes).toContainEqual(
      expect.objectContaining({ kind: "update", name: `${p.stem}-db`, where: p.region }),
    );
    expect(violations(changes, p.region)).toEqual([]);
  });

  it("promoting -> primary touches only the surviving region, no IAM, no Route 53", async () => {
    const before = await run("promoting", PROMOTING);
    const after = await run("primary", PRIMARY);
    expect(violations(changesBetween(before, after, p.region), p.region)).toEqual([]);
  });

  it("the failover path leaves the Region switch plan, its functions and its access as they were", async () => {
    const steps = [await run("standby", {}), await run("promoting", PROMOTING)];
    steps.push(await run("primary", PRIMARY));
    const ofInterest = (r: StackRun) =>
      r.resources
        .filter((x) => /^aws:(arcregionswitch|lambda)\/|^aws:eks\/access/.test(x.type))
        .map((x) => ({ type: x.type, name: x.name, inputs: x.inputs }));
    const first = ofInterest(steps[0]);
    // The owner stack (use1) carries the plan; every stack its two functions and the access entry.
    expect(first.filter((x) => x.type === "aws:arcregionswitch/plan:Plan")).toHaveLength(
      p.stack === "primary" ? 1 : 0,
    );
    const planFunctions = first.filter(
      (x) => x.type === "aws:lambda/function:Function" && /-rs-/.test(String(x.inputs.name)),
    );
    expect(planFunctions).toHaveLength(2);
    for (const s of steps.slice(1)) expect(ofInterest(s)).toEqual(first);
  });

  it("reconnect (peerLinks: true) restores the links into the old region, and only them", async () => {
    const before = await run("primary", PRIMARY);
    const after = await run("reconnected", RECONNECTED);
    const changes = changesBetween(before, after, p.region);
    // Still no IAM or Route 53: every role the links need exists in every role (docs/architecture.md §2b).
    expect(changes.filter((c) => c.where === "global").map(line)).toEqual([]);

    // S3 replication to the old site's bucket, from the new primary's own bucket.
    const replication = after.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig");
    expect(before.ofType(replication.type).map((r) => r.name)).toEqual([]);
    expect(replication.inputs.region).toBe(p.region);
    expect(replication.inputs.rules[0].destination.bucket).toBe(
      `arn:aws:s3:::${p.peerStem}-backups-111122223333`,
    );
    // RDS automated-backup replication: created in the destination (old) region.
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html
    const pitr = after.one(
      "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    );
    expect(before.ofType(pitr.type).map((r) => r.name)).toEqual([]);
    expect(pitr.inputs.region).toBe(p.peerRegion);
    expect(pitr.inputs.sourceDbInstanceArn).toBe(
      `arn:aws:rds:${p.region}:111122223333:db:${p.stem}-pg`,
    );
    // AWS Backup copies into the old site's vault.
    const plan = after.one("aws:backup/plan:Plan");
    const peerVault = `arn:aws:backup:${p.peerRegion}:111122223333:backup-vault:${p.peerStem}-vault`;
    const copies = (inputs: Record<string, any>) =>
      (inputs.rules as any[]).flatMap((r) => (r.copyActions ?? []) as any[]);
    expect(copies(before.one("aws:backup/plan:Plan").inputs)).toEqual([]);
    expect(copies(plan.inputs).map((c) => c.destinationVaultArn)).toEqual([
      peerVault,
      peerVault,
      peerVault,
    ]);

    // Nothing else moves: the reconnect is exactly these links.
    expect(changes.map((c) => `${c.kind} ${c.type}`).sort()).toEqual(
      [`create ${pitr.type}`, `create ${replication.type}`, `update ${plan.type}`].sort(),
    );
  });
});
