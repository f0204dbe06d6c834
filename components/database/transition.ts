import { ConfigError, type Role } from "../config";

/**
 * The database's failover state machine (docs/architecture.md §3, docs/failover.md), as pure functions that
 * index.ts runs before it registers anything: an invalid move is a config error, never a surprise
 * in AWS halfway through an update.
 *
 * A Pulumi program cannot read what it deployed last time, so the move is *declared*: whoever
 * changes `dr-stack:role` also sets `dr-stack:database.previousRole` to the role being left
 * (`drctl failover` does both). Without it the program checks the target role alone; the engine
 * still stops a rebuild nobody allowed, because the data instance is `protect`ed (see
 * docs/failover.md, "What protects an undeclared move").
 */

/** What the transition check needs: the target role and the database config keys about moves. */
export interface RoleTransition {
  /** `dr-stack:role`, the role this update deploys. */
  readonly role: Role;
  /** `dr-stack:database.previousRole`, the role deployed by the last successful update. @default role */
  readonly previousRole?: Role;
  /** `dr-stack:database.allowRebuild`. @default false */
  readonly allowRebuild?: boolean;
}

export type TransitionKind = "steady" | "update" | "rebuild";

/**
 * Every move the machine allows, and what it does to the instance. A move absent from this table
 * is refused. `rebuild` replaces the instance: a standalone instance cannot be re-attached to a
 * new source (terraform-provider-aws answers "cannot elect new source database for replication").
 */
export const TRANSITIONS: Readonly<Record<string, TransitionKind>> = {
  "standby->promoting": "update", // phase 1: detach the replica (PromoteReadReplica)
  "promoting->primary": "update", // phase 2: primary-only settings (terraform-provider-aws #4419)
  "primary->fenced": "update", // the old primary goes read-only when its region returns
  "promoting->fenced": "update", // abandon a promotion once writes may have landed there
  "fenced->primary": "update", // unfence: the failover was called off before the peer promoted
  "fenced->standby": "rebuild", // failback: the old primary becomes a replica of the new one
  "promoting->standby": "rebuild", // undo a detach: a fresh replica of the peer
};

/** Classifies a move; undefined means the machine refuses it. */
export function transitionKind(from: Role, to: Role): TransitionKind | undefined {
  if (from === to) return "steady";
  return TRANSITIONS[`${from}->${to}`];
}

const SET = "pulumi config set --path";

/** The one message an operator sees when a rebuild is not yet allowed: what to run, in order. */
export function rebuildInstructions(from: Role): string {
  const head =
    `dr-stack:database.allowRebuild: moving this site from ${from} to standby replaces its database ` +
    `instance (a ${from} instance cannot be re-attached as a replica), and rebuilding is not allowed. `;
  const relock =
    `\`${SET} dr-stack:database.allowRebuild false\`, \`pulumi config rm --path dr-stack:database.previousRole\`, ` +
    `then \`pulumi up\` (protection back on). See docs/failover.md.`;
  if (from === "fenced") {
    // A fenced instance has no deletion protection (database.ts), so one update replaces it.
    return (
      head +
      `Run \`${SET} dr-stack:database.allowRebuild true\`, then \`pulumi up\` ` +
      `(final snapshot of the old instance, then a new replica of the peer), then ` +
      relock
    );
  }
  // Any other instance still has deletion protection: lift it with an update of its own first.
  return (
    head +
    `Its deletion protection must be lifted by an update of its own first. Run, in order: ` +
    `(1) \`pulumi config set dr-stack:role ${from}\`, \`pulumi config rm --path dr-stack:database.previousRole\`, ` +
    `\`${SET} dr-stack:database.allowRebuild true\`, then \`pulumi up\`; ` +
    `(2) \`pulumi config set dr-stack:role standby\`, \`${SET} dr-stack:database.previousRole ${from}\`, ` +
    `then \`pulumi up\` (final snapshot, then a new replica of the peer); (3) ` +
    relock
  );
}

/** Every problem with the declared move, each naming its config key; empty when it is allowed. */
export function roleTransitionProblems(t: RoleTransition): string[] {
  const from = t.previousRole ?? t.role;
  const to = t.role;
  const allowRebuild = t.allowRebuild ?? false;
  const problems: string[] = [];
  const kind = transitionKind(from, to);

  if (kind === undefined) {
    problems.push(refusal(from, to));
  } else if (kind === "rebuild" && !allowRebuild) {
    problems.push(rebuildInstructions(from));
  }
  // A primary is never rebuilt, so nothing may lift its protection: a config typo must not leave
  // the only writable copy of the data deletable.
  if (allowRebuild && to === "primary") {
    problems.push(
      `dr-stack:database.allowRebuild: must be false while role is primary (the primary is never rebuilt); ` +
        `run \`${SET} dr-stack:database.allowRebuild false\`. To rebuild this site, fence it first ` +
        `(\`pulumi config set dr-stack:role fenced\`, \`pulumi up\`).`,
    );
  }
  return problems;
}

function refusal(from: Role, to: Role): string {
  const key = "dr-stack:role";
  const why: Record<string, string> = {
    "standby->primary":
      `promotion takes two updates because the provider cannot detach a replica and apply primary-only ` +
      `settings in one (terraform-provider-aws #4419): set role promoting, \`pulumi up\`, then role primary, \`pulumi up\``,
    "standby->fenced":
      `a standby is already a read-only replica; fencing is for a former primary. Leave it standby, or ` +
      `promote it (standby -> promoting -> primary)`,
    "primary->standby":
      `a primary is rebuilt as a standby only after it is fenced: set role fenced, \`pulumi up\`, then follow ` +
      `the failback steps in docs/failover.md`,
    "primary->promoting": `promoting is phase 1 of promoting a replica; this site is already primary`,
    "fenced->promoting":
      `a fenced site is not a replica, so there is nothing to detach: set role primary to unfence it, or ` +
      `standby to rebuild it`,
  };
  return (
    `${key}: moving from ${from} (dr-stack:database.previousRole) to ${to} is not a valid transition: ` +
    `${why[`${from}->${to}`] ?? "see docs/failover.md for the allowed moves"}.`
  );
}

/** A PostgreSQL version move, declared like a role move (`database.previousEngineVersion`). */
export interface EngineUpgrade {
  readonly role: Role;
  /** `dr-stack:database.engineVersion`, "16" or "16.4". */
  readonly engineVersion: string;
  /** `dr-stack:database.previousEngineVersion`: what the last update deployed. @default engineVersion */
  readonly previousEngineVersion?: string;
  /** `dr-stack:database.allowMajorVersionUpgrade`. @default false */
  readonly allowMajorVersionUpgrade?: boolean;
  /** `dr-stack:database.allowRebuild`. @default false */
  readonly allowRebuild?: boolean;
}

const parts = (v: string) => v.split(".").map(Number);

/** Whether the declared move changes the PostgreSQL major version upwards. */
export function isMajorUpgrade(u: EngineUpgrade): boolean {
  return (
    u.previousEngineVersion !== undefined &&
    parts(u.engineVersion)[0] > parts(u.previousEngineVersion)[0]
  );
}

/**
 * Every problem with a declared engine version move, each naming its config key and what to do;
 * empty when RDS accepts it as this stack sends it.
 * - RDS never downgrades an instance; a major upgrade needs AllowMajorVersionUpgrade
 *   (ModifyDBInstance, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html).
 * - A read replica is not upgraded on its own to a new major version ("Choosing a major version
 *   for an RDS for PostgreSQL upgrade": read replicas are upgraded with their source,
 *   https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.MajorVersion.html);
 *   no AWS page says what a major upgrade of the source does to a cross-Region replica, so the
 *   standby is rebuilt as a new replica of the upgraded primary, which is a rebuild.
 */
export function engineUpgradeProblems(u: EngineUpgrade): string[] {
  const from = u.previousEngineVersion;
  if (from === undefined || from === u.engineVersion) return [];
  const [fromMajor, fromMinor] = parts(from);
  const [toMajor, toMinor] = parts(u.engineVersion);
  const key = "dr-stack:database.engineVersion";
  if (toMajor < fromMajor || (toMajor === fromMajor && (toMinor ?? 0) < (fromMinor ?? 0))) {
    return [
      `${key}: ${u.engineVersion} is older than the deployed ${from}; RDS cannot downgrade an ` +
        `instance. Set it back to ${from}; to run an older version, restore a snapshot into a new ` +
        `instance (docs/runbooks/upgrades.md).`,
    ];
  }
  if (toMajor === fromMajor) return [];
  if (u.role === "standby") {
    return u.allowRebuild
      ? []
      : [
          `${key}: ${from} to ${u.engineVersion} on a standby replaces its replica (RDS upgrades a ` +
            `replica's major version only with its source, and the standby is rebuilt from the ` +
            `upgraded primary), and rebuilding is not allowed. Upgrade the primary's stack first; ` +
            `then here, in order: (1) keep engineVersion ${from}, ` +
            `\`pulumi config set --path dr-stack:database.allowRebuild true\`, \`pulumi up\` (lifts ` +
            `deletion protection); (2) set engineVersion ${u.engineVersion} and previousEngineVersion ` +
            `${from}, \`pulumi up\` (a new replica); (3) ` +
            `\`pulumi config set --path dr-stack:database.allowRebuild false\`, ` +
            `\`pulumi config rm --path dr-stack:database.previousEngineVersion\`, \`pulumi up\` ` +
            `(docs/runbooks/upgrades.md).`,
        ];
  }
  return u.allowMajorVersionUpgrade
    ? []
    : [
        `dr-stack:database.allowMajorVersionUpgrade: ${from} to ${u.engineVersion} is a major ` +
          `version upgrade, which RDS refuses unless allowed. Run ` +
          `\`pulumi config set --path dr-stack:database.allowMajorVersionUpgrade true\` together ` +
          `with the new engineVersion and jobs.scratchImage (docs/runbooks/upgrades.md).`,
      ];
}

/**
 * Throws one ConfigError listing every problem with the declared moves (role, engine version,
 * and whatever else the caller checked first); call before any resource, so a refused update
 * changes nothing.
 */
export function assertDeclaredMoves(
  t: RoleTransition,
  engine: EngineUpgrade,
  other: string[] = [],
): void {
  const problems = [...roleTransitionProblems(t), ...engineUpgradeProblems(engine), ...other];
  if (problems.length) throw new ConfigError(problems);
}
