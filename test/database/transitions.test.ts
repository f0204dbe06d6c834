import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROLES, type Role } from "../../components/config";
import {
  TRANSITIONS,
  rebuildInstructions,
  roleTransitionProblems,
  transitionKind,
} from "../../components/database/transition";
import { ROOT, runStack, type StackName, type StackRun } from "../harness";
import { appliedDiff, diffInputs } from "../support/diff";

const INSTANCE = "aws:rds/instance:Instance";

function instanceOf(run: StackRun): StackRun["resources"][number] {
  const db = run.ofType(INSTANCE).filter((r) => r.name.endsWith("-db"));
  if (db.length !== 1) throw new Error(`expected one site instance, got ${db.length}`);
  return db[0];
}

/** The data tier's resources (database and AWS Backup); other components react to roles too. */
function resourceNames(run: StackRun): Set<string> {
  return new Set(
    run.resources
      .filter((r) => /^acme-dr-[a-z0-9]+-(db|vault)\b/.test(r.name))
      .map((r) => `${r.type} ${r.name}`),
  );
}

function added(before: StackRun, after: StackRun): string[] {
  const b = resourceNames(before);
  return [...resourceNames(after)].filter((n) => !b.has(n)).sort();
}

describe("the instance diff of each promotion phase (dr stack)", () => {
  it("standby -> promoting detaches the replica; nothing AWS applies changes besides", async () => {
    const standby = await runStack("dr");
    const promoting = await runStack("dr", {
      role: "promoting",
      database: { previousRole: "standby" },
    });
    const before = instanceOf(standby);
    const after = instanceOf(promoting);
    expect(after.name).toBe(before.name);
    expect(after.urn).toBe(before.urn);
    expect(appliedDiff(before, after)).toEqual([
      // Sent with PromoteReadReplica by the provider: retention is on the moment it is writable.
      { key: "backupRetentionPeriod", from: 0, to: 14 },
      // Delete-time settings, kept in state only: the provider makes no API call for them.
      // A replica must skip the final snapshot (RDS refuses one); a standalone instance keeps one.
      { key: "finalSnapshotIdentifier", from: undefined, to: "acme-dr-usw2-pg-final" },
      {
        key: "replicateSourceDb",
        from: "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg",
        to: undefined,
      },
      { key: "skipFinalSnapshot", from: true, to: false },
    ]);
    // The password input appears but is ignored: the promoted database keeps the replicated
    // one, which its master secret (a copy of the peer's) already holds.
    expect(diffInputs(before.inputs, after.inputs).map((c) => c.key)).toContain("password");
    expect(after.ignoreChanges).toContain("password");
    // The master secret's value is kept as it was: no credential changes during a failover.
    const secret = (run: StackRun) =>
      run.one("aws:secretsmanager/secretVersion:SecretVersion", "acme-dr-usw2-db-master");
    expect(appliedDiff(secret(standby), secret(promoting))).toEqual([]);
    // Same options too: still protected, and no longer replaced on a source change.
    expect(after.protect).toBe(true);
    expect(after.replaceOnChanges).toEqual([]);
    expect(added(standby, promoting)).toEqual([]);
    expect(added(promoting, standby)).toEqual([]);
  });

  it("promoting -> primary applies exactly the primary-only settings and adds backup replication", async () => {
    const promoting = await runStack("dr", {
      role: "promoting",
      database: { previousRole: "standby" },
    });
    const primary = await runStack("dr", {
      role: "primary",
      database: { previousRole: "promoting" },
    });
    // The password (a fresh random string in each mocked run) is ignored like the others.
    expect(
      diffInputs(instanceOf(promoting).inputs, instanceOf(primary).inputs).map((c) => c.key),
    ).toEqual(["dbName", "multiAz", "password", "username"]);
    // username and dbName are create-only: ignored, so the promoted replica is never replaced.
    expect(instanceOf(primary).ignoreChanges).toEqual(["username", "dbName", "password"]);
    expect(appliedDiff(instanceOf(promoting), instanceOf(primary))).toEqual([
      { key: "multiAz", from: false, to: true },
    ]);
    // The AWS Backup role exists in every role (docs/architecture.md §2b): only the plan and selection are new.
    expect(added(promoting, primary)).toEqual([
      "aws:backup/plan:Plan acme-dr-usw2-vault",
      "aws:backup/selection:Selection acme-dr-usw2-vault",
      "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication acme-dr-usw2-db-backups-to-us-east-1",
    ]);
    const repl = primary.one(
      "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    );
    expect(repl.inputs).toEqual({
      region: "us-east-1",
      sourceDbInstanceArn: "arn:aws:rds:us-west-2:111122223333:db:acme-dr-usw2-pg",
      // The use1 key's ARN, looked up in us-east-1 only because peerLinks is on.
      kmsKeyId: (await runStack("primary")).outputs.kmsKeyArn,
      retentionPeriod: 14,
    });
    expect(primary.outputs.dbMasterSecretArn).toMatch(/^arn:aws:secretsmanager:us-west-2:/);
  });

  it("phase 2 during an outage of the old region skips the backup replication into it", async () => {
    const run = await runStack("dr", {
      role: "primary",
      peerLinks: false,
      database: { previousRole: "promoting" },
    });
    expect(
      run.ofType("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"),
    ).toEqual([]);
    // Nothing is created in us-east-1 on this path (docs/architecture.md §2); the plan's copy jobs just wait.
    // The only resource there is the role-independent alarm on the site's Route 53 endpoint check
    // (docs/dns-failover.md), which no transition touches (failoverPath.test.ts).
    expect(run.resources.filter((r) => r.inputs.region === "us-east-1").map((r) => r.name)).toEqual(
      ["acme-dr-usw2-alarms-endpoint-health"],
    );
    expect(instanceOf(run).inputs).toMatchObject({ multiAz: true, backupRetentionPeriod: 14 });
  });

  it("primary -> fenced changes only the parameter group's values and removes the primary's extras", async () => {
    const primary = await runStack("primary");
    const fenced = await runStack("primary", {
      role: "fenced",
      database: { previousRole: "primary" },
    });
    expect(appliedDiff(instanceOf(primary), instanceOf(fenced))).toEqual([
      { key: "deletionProtection", from: true, to: false },
    ]);
    expect(instanceOf(fenced).protect).toBe(true);
    const params = (run: StackRun) => run.one("aws:rds/parameterGroup:ParameterGroup").inputs;
    expect(diffInputs(params(primary), params(fenced)).map((c) => c.key)).toEqual(["parameters"]);
    expect(added(fenced, primary)).toEqual([
      "aws:backup/plan:Plan acme-dr-use1-vault",
      "aws:backup/selection:Selection acme-dr-use1-vault",
      "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication acme-dr-use1-db-backups-to-us-west-2",
    ]);
  });
});

describe("failback: rebuilding a fenced site as standby", () => {
  it("refuses fenced -> standby without allowRebuild, saying what to run", async () => {
    const err = await runStack("primary", {
      role: "standby",
      database: { previousRole: "fenced" },
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).toBe("ConfigError");
    expect(err?.message).toContain(
      "dr-stack:database.allowRebuild: moving this site from fenced to standby",
    );
    expect(err?.message).toContain(
      "`pulumi config set --path dr-stack:database.allowRebuild true`, then `pulumi up`",
    );
    expect(err?.message).toContain(
      "`pulumi config set --path dr-stack:database.allowRebuild false`",
    );
    expect(err?.message).toContain(rebuildInstructions("fenced"));
  });

  it("refuses promoting -> standby without allowRebuild: that instance must be unlocked first", async () => {
    await expect(
      runStack("dr", { role: "standby", database: { previousRole: "promoting" } }),
    ).rejects.toThrow(
      "Its deletion protection must be lifted by an update of its own first. Run, in order: " +
        "(1) `pulumi config set dr-stack:role promoting`",
    );
  });

  it("with allowRebuild, one update replaces the instance in place of the old one, as a replica of the peer", async () => {
    const run = await runStack("primary", {
      role: "standby",
      database: { previousRole: "fenced", allowRebuild: true },
    });
    const db = instanceOf(run);
    expect(db.name).toBe("acme-dr-use1-db");
    expect(db.inputs.identifier).toBe("acme-dr-use1-pg");
    expect(db.inputs.replicateSourceDb).toBe(
      "arn:aws:rds:us-west-2:111122223333:db:acme-dr-usw2-pg",
    );
    expect(db.inputs.kmsKeyId).toBe(run.outputs.kmsKeyArn);
    expect(db.inputs.deletionProtection).toBe(false);
    expect(db.protect).toBe(false);
    expect(db.deleteBeforeReplace).toBe(true);
    expect(db.replaceOnChanges).toEqual(["replicateSourceDb"]);
    // The read-only fence goes with the old instance: the group is back to TLS only.
    expect(run.one("aws:rds/parameterGroup:ParameterGroup").inputs.parameters).toEqual([
      { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
      { name: "shared_preload_libraries", value: "pg_cron", applyMethod: "pending-reboot" },
    ]);
  });

  it("relocking is the plain standby again", async () => {
    const relocked = await runStack("primary", { role: "standby" });
    const db = instanceOf(relocked);
    expect(db.protect).toBe(true);
    expect(db.inputs.deletionProtection).toBe(true);
  });

  it("refuses allowRebuild on a primary, and the moves the machine does not have", async () => {
    await expect(runStack("primary", { database: { allowRebuild: true } })).rejects.toThrow(
      "dr-stack:database.allowRebuild: must be false while role is primary",
    );
    await expect(
      runStack("dr", { role: "primary", database: { previousRole: "standby" } }),
    ).rejects.toThrow(
      "dr-stack:role: moving from standby (dr-stack:database.previousRole) to primary is not a valid transition: " +
        "promotion takes two updates",
    );
    await expect(
      runStack("primary", { role: "standby", database: { previousRole: "primary" } }),
    ).rejects.toThrow("a primary is rebuilt as a standby only after it is fenced");
    await expect(runStack("primary", { database: { previousRole: "chief" } })).rejects.toThrow(
      'dr-stack:database.previousRole: "chief" is not allowed',
    );
  });
});

describe("the transition table (pure)", () => {
  const table: Record<Role, Record<Role, string>> = {
    primary: { primary: "steady", standby: "-", promoting: "-", fenced: "update" },
    standby: { primary: "-", standby: "steady", promoting: "update", fenced: "-" },
    promoting: { primary: "update", standby: "rebuild", promoting: "steady", fenced: "update" },
    fenced: { primary: "update", standby: "rebuild", promoting: "-", fenced: "steady" },
  };
  for (const from of ROLES) {
    for (const to of ROLES) {
      it(`${from} -> ${to} is ${table[from][to]}`, () => {
        expect(transitionKind(from, to) ?? "-").toBe(table[from][to]);
        const problems = roleTransitionProblems({ role: to, previousRole: from });
        expect(problems.length > 0).toBe(table[from][to] === "-" || table[from][to] === "rebuild");
        expect(
          roleTransitionProblems({ role: to, previousRole: from, allowRebuild: true }).length > 0,
        ).toBe(table[from][to] === "-" || to === "primary");
      });
    }
  }

  it("without a declared previous role, every role on its own is a steady state", () => {
    for (const role of ROLES) expect(roleTransitionProblems({ role })).toEqual([]);
  });
});

describe("every stack in every role runs clean", () => {
  const cases: [StackName, Role][] = (["primary", "dr"] as const).flatMap((stack) =>
    ROLES.map((role): [StackName, Role] => [stack, role]),
  );
  for (const [stack, role] of cases) {
    it(`${stack} as ${role}`, async () => {
      const run = await runStack(stack, { role });
      const db = instanceOf(run);
      expect(run.outputs.dbRole).toBe(role);
      expect(db.inputs.storageEncrypted).toBe(true);
      expect(db.inputs.kmsKeyId).toBe(run.outputs.kmsKeyArn);
      expect(db.inputs.publiclyAccessible).toBe(false);
      expect(db.protect).toBe(true);
      expect(db.inputs.replicateSourceDb !== undefined).toBe(role === "standby");
      expect(run.one("aws:backup/vault:Vault").inputs.kmsKeyArn).toBe(run.outputs.kmsKeyArn);
    });
  }
});

describe("docs/failover.md matches the code", () => {
  const doc = readFileSync(join(ROOT, "docs", "failover.md"), "utf8");

  it("lists every allowed move with its kind", () => {
    for (const [move, kind] of Object.entries(TRANSITIONS)) {
      const [from, to] = move.split("->");
      expect(doc, move).toMatch(new RegExp(`\\| \`${from}\` → \`${to}\` +\\| ${kind} +\\|`));
    }
  });

  it("gives the same commands as the refusal message", () => {
    for (const cmd of [
      "pulumi config set --path dr-stack:database.allowRebuild true",
      "pulumi config set --path dr-stack:database.allowRebuild false",
      "pulumi config rm --path dr-stack:database.previousRole",
    ]) {
      expect(rebuildInstructions("fenced")).toContain(cmd);
      expect(doc).toContain(cmd);
    }
  });
});
