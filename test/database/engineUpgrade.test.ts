import { describe, expect, it } from "vitest";
import { engineUpgradeProblems, isMajorUpgrade } from "../../components/database/transition";

/**
 * The PostgreSQL version moves the stack refuses before AWS would (components/database/
 * transition.ts): RDS never downgrades, a major upgrade needs AllowMajorVersionUpgrade
 * (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html), and a
 * replica's major version moves only with its source, so the standby is rebuilt
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.MajorVersion.html).
 */
describe("PostgreSQL version moves", () => {
  it("allows no move, a minor upgrade, and a declared major upgrade", () => {
    expect(engineUpgradeProblems({ role: "primary", engineVersion: "16" })).toEqual([]);
    expect(
      engineUpgradeProblems({
        role: "standby",
        engineVersion: "16.6",
        previousEngineVersion: "16.4",
      }),
    ).toEqual([]);
    expect(
      engineUpgradeProblems({
        role: "primary",
        engineVersion: "17",
        previousEngineVersion: "16.6",
        allowMajorVersionUpgrade: true,
      }),
    ).toEqual([]);
    expect(
      engineUpgradeProblems({
        role: "standby",
        engineVersion: "17",
        previousEngineVersion: "16.6",
        allowRebuild: true,
      }),
    ).toEqual([]);
  });

  it("refuses a downgrade, naming the version to set back", () => {
    expect(
      engineUpgradeProblems({ role: "primary", engineVersion: "16", previousEngineVersion: "17" }),
    ).toEqual([
      "dr-stack:database.engineVersion: 16 is older than the deployed 17; RDS cannot downgrade an " +
        "instance. Set it back to 17; to run an older version, restore a snapshot into a new " +
        "instance (docs/runbooks/upgrades.md).",
    ]);
  });

  it("refuses a major upgrade of a writable instance without allowMajorVersionUpgrade", () => {
    expect(
      engineUpgradeProblems({ role: "primary", engineVersion: "17", previousEngineVersion: "16" }),
    ).toEqual([
      "dr-stack:database.allowMajorVersionUpgrade: 16 to 17 is a major version upgrade, which RDS " +
        "refuses unless allowed. Run `pulumi config set --path dr-stack:database.allowMajorVersionUpgrade true` " +
        "together with the new engineVersion and jobs.scratchImage (docs/runbooks/upgrades.md).",
    ]);
  });

  it("makes a standby's major upgrade a rebuild, refused until allowed, in three updates", () => {
    const [problem] = engineUpgradeProblems({
      role: "standby",
      engineVersion: "17",
      previousEngineVersion: "16",
    });
    expect(problem).toBe(
      "dr-stack:database.engineVersion: 16 to 17 on a standby replaces its replica (RDS upgrades a " +
        "replica's major version only with its source, and the standby is rebuilt from the upgraded " +
        "primary), and rebuilding is not allowed. Upgrade the primary's stack first; then here, in " +
        "order: (1) keep engineVersion 16, `pulumi config set --path dr-stack:database.allowRebuild true`, " +
        "`pulumi up` (lifts deletion protection); (2) set engineVersion 17 and previousEngineVersion 16, " +
        "`pulumi up` (a new replica); (3) `pulumi config set --path dr-stack:database.allowRebuild false`, " +
        "`pulumi config rm --path dr-stack:database.previousEngineVersion`, `pulumi up` " +
        "(docs/runbooks/upgrades.md).",
    );
    expect(
      isMajorUpgrade({ role: "standby", engineVersion: "17", previousEngineVersion: "16.6" }),
    ).toBe(true);
    expect(
      isMajorUpgrade({ role: "standby", engineVersion: "16.6", previousEngineVersion: "16" }),
    ).toBe(false);
  });
});
