import type { Role } from "../../../components/config";
import type { SiteState, Topology } from "./topology";
import { peerOf } from "./topology";

/**
 * - failover: start the Region switch plan in the region being activated and follow it; nothing
 *   of Pulumi is needed.
 * - reconcile: once the plan has run, bring both stacks' config to what it did, and update the
 *   surviving stack (primary-only settings in its own region).
 * - reconnect: once the old region answers, the old stack's `fenced` update and the links back.
 * - rebuild: make a fenced site the standby of the primary again (after a failback, the site it
 *   left), so the pair can fail over again.
 * - failback: rebuild the old site as standby, then the same plan the other way, graceful.
 */
export type Direction = "failover" | "reconcile" | "reconnect" | "rebuild" | "failback";

/** One config edit, as `pulumi config set|rm [--path] <key> [value] -s <stack>` would make it. */
export interface ConfigChange {
  readonly op: "set" | "remove";
  readonly key: string;
  readonly value?: string;
  readonly path: boolean;
}

export type StepKind =
  | "preflight"
  | "regionSwitch"
  | "checkDns"
  | "checkWrite"
  | "refresh"
  | "settle"
  | "emptyPreview"
  | "fenceConfig"
  | "rebuild"
  | "reprotect"
  | "waitLag"
  | "regionBack"
  | "fenceStack"
  | "links"
  | "batchReplication";

/** Where one remote call of a step goes: what the report's call log names. */
export interface CallTarget {
  /** An AWS region, or `global` (DNS resolution) or `pulumi` (the CLI and its state backend). */
  readonly region: string;
  /** The AWS service (or `Pulumi stack <name>`) the call goes to. */
  readonly service: string;
  readonly action: string;
}

export interface Step {
  /** Stable id, recorded in the state file: a resumed run matches steps by it. */
  readonly id: string;
  readonly kind: StepKind;
  readonly title: string;
  readonly site: string;
  readonly stack: string;
  readonly changes: readonly ConfigChange[];
  /** Whether the step ends with `pulumi up` on its stack. */
  readonly up: boolean;
  /** Config edits once that `up` succeeded: the declared move is done (no update needed). */
  readonly settle?: readonly ConfigChange[];
  /** Every remote call the step makes. */
  readonly calls: readonly CallTarget[];
  /** refresh only: the URNs read back. */
  readonly targets?: readonly string[];
}

export interface Plan {
  readonly direction: Direction;
  /** The site that becomes (or, for reconcile and reconnect, is) primary. */
  readonly to: SiteState;
  /** The site that stops being primary. */
  readonly from: SiteState;
  readonly steps: readonly Step[];
}

export const ROLE_KEY = "dr-stack:role";
export const ALLOW_REBUILD_KEY = "dr-stack:database.allowRebuild";
export const PREVIOUS_ROLE_KEY = "dr-stack:database.previousRole";
/** When false the site creates none of its data links into the peer region. */
export const PEER_LINKS_KEY = "dr-stack:peerLinks";

/**
 * A role change, declared: the program checks `previousRole -> role` against the state machine
 * before it registers anything (components/database/transition.ts), so a step that would make an
 * invalid move fails its `up` with the reason instead of half-applying it.
 */
const moveTo = (role: Role, leaving: Role): ConfigChange[] => [
  { op: "set", key: ROLE_KEY, value: role, path: false },
  { op: "set", key: PREVIOUS_ROLE_KEY, value: leaving, path: true },
];

const peerLinks = (on: boolean): ConfigChange => ({
  op: "set",
  key: PEER_LINKS_KEY,
  value: String(on),
  path: true,
});

/** The role a site has deployed: the one a run declared it was leaving, else its role. */
const deployedRole = (site: SiteState, expected: Role): Role =>
  site.previousRole ?? site.role ?? expected;

/** After the move's `up`: the declaration is spent, and a stale one must not vouch for the next. */
const moveDone: readonly ConfigChange[] = [{ op: "remove", key: PREVIOUS_ROLE_KEY, path: true }];

const pulumi = (s: SiteState, action: string): CallTarget => ({
  region: s.region,
  service: `Pulumi stack ${s.stack}`,
  action,
});

const database = (s: SiteState, action: string): CallTarget => ({
  region: s.region,
  service: "PostgreSQL",
  action: `${action} on ${s.site}'s database`,
});

const arc = (region: string, action: string): CallTarget => ({
  region,
  service: "ARC Region switch",
  action,
});

type StepFields = Omit<Step, "site" | "stack" | "changes" | "up"> & Partial<Step>;

function step(at: SiteState, s: StepFields): Step {
  return { site: at.site, stack: at.stack, changes: [], up: false, ...s };
}

/**
 * The URN of a site's RDS instance: the `Database` component `<stem>-db` (index.ts) and its
 * instance child of the same name (components/database/instance.ts), in project `dr-stack`.
 */
export function dbInstanceUrn(stack: string, stem: string): string {
  return `urn:pulumi:${stack}::dr-stack::drstack:database:Database$aws:rds/instance:Instance::${stem}-db`;
}

interface Ctx {
  readonly from: SiteState;
  readonly to: SiteState;
  readonly stem: (site: SiteState) => string;
}

/** Start the plan in `to`'s region and follow it; nothing of Pulumi, nothing in `from`'s region. */
function activate(c: Ctx, graceful: boolean): Step[] {
  const { to } = c;
  return [
    step(to, {
      id: `region-switch-${to.site}`,
      kind: "regionSwitch",
      title: `Region switch plan: activate ${to.region} (${graceful ? "graceful" : "mode of --mode"})`,
      calls: [
        arc(to.region, "ListPlansInRegion"),
        arc(to.region, "StartPlanExecution activate"),
        arc(to.region, "GetPlanExecution"),
      ],
    }),
  ];
}

const checkDns = (to: SiteState): Step =>
  step(to, {
    id: `check-dns-${to.site}`,
    kind: "checkDns",
    title: `check DNS answers with ${to.site}`,
    calls: [{ region: "global", service: "DNS", action: "resolve the service's record" }],
  });

/**
 * What the plan did, declared to Pulumi: the plan's RdsPromoteReadReplica is the `promoting` move
 * (the replica detached), so the surviving stack moves promoting -> primary. Its instance is read
 * back first, targeted: the state still holds the replica's source, and an update that removes it
 * calls PromoteReadReplica on an instance that no longer is a replica (terraform-provider-aws
 * resourceInstanceUpdate; its read sets replicate_source_db from
 * ReadReplicaSourceDBInstanceIdentifier, empty once promoted).
 */
function reconcile(c: Ctx, links: boolean): Step[] {
  const { from, to } = c;
  return [
    step(to, {
      id: `check-write-${to.site}`,
      kind: "checkWrite",
      title: `check ${to.site} is promoted: it takes a write`,
      calls: [
        {
          region: to.region,
          service: "Secrets Manager",
          action: `GetSecretValue of ${to.site}'s master secret`,
        },
        database(to, "BEGIN; CREATE TABLE …; ROLLBACK"),
      ],
    }),
    step(to, {
      id: `refresh-${to.site}`,
      kind: "refresh",
      title: `read ${to.site}'s database back into stack ${to.stack} (refresh of that instance only)`,
      targets: [dbInstanceUrn(to.stack, c.stem(to))],
      calls: [pulumi(to, `pulumi refresh --target ${dbInstanceUrn(to.stack, c.stem(to))}`)],
    }),
    step(to, {
      id: `settle-${to.site}`,
      kind: "settle",
      title: `stack ${to.stack}: promoting -> primary (primary-only settings in ${to.region})`,
      changes: [...moveTo("primary", "promoting"), peerLinks(links)],
      up: true,
      settle: moveDone,
      calls: [pulumi(to, `pulumi up (resources in ${to.region} only)`)],
    }),
    step(to, {
      id: `empty-preview-${to.site}`,
      kind: "emptyPreview",
      title: `check the next up of stack ${to.stack} is empty`,
      calls: [pulumi(to, "pulumi preview")],
    }),
    step(from, {
      id: `fence-config-${from.site}`,
      kind: "fenceConfig",
      title: `stack ${from.stack}: declare ${from.site} fenced (config only; its update waits for reconnect)`,
      changes: moveTo("fenced", deployedRole(from, "primary")),
      calls: [
        { region: "pulumi", service: `Pulumi stack ${from.stack}`, action: "pulumi config set" },
      ],
    }),
  ];
}

/**
 * Once the old region answers: the old stack's `fenced` update (the reconciliation that never
 * blocks a promotion), then the new primary's links into that region, then a Batch Replication
 * of what its bucket took while the links were off.
 */
function reconnect(c: Ctx, standalone: boolean): Step[] {
  const { from, to } = c;
  const first: Step[] = standalone
    ? [
        step(from, {
          id: `region-back-${from.site}`,
          kind: "regionBack",
          title: `check ${from.region} answers (${from.site}'s backup bucket)`,
          calls: [
            { region: from.region, service: "S3", action: `HeadBucket of ${from.site}'s bucket` },
          ],
        }),
      ]
    : [];
  return [
    ...first,
    step(from, {
      id: `fence-stack-${from.site}`,
      kind: "fenceStack",
      title: `update ${from.site}'s stack: -> fenced (if it still says primary)`,
      changes: moveTo("fenced", deployedRole(from, "primary")),
      up: true,
      settle: moveDone,
      calls: [pulumi(from, `pulumi up (resources in ${from.region} only)`)],
    }),
    ...(standalone
      ? [
          step(to, {
            id: `links-${to.site}`,
            kind: "links" as const,
            title: `reconnect ${to.site}'s links into ${from.region} (peerLinks true)`,
            changes: [peerLinks(true)],
            up: true,
            calls: [
              pulumi(
                to,
                `pulumi up (S3 replication, automated-backups replication, Backup copies to ${from.region})`,
              ),
            ],
          }),
        ]
      : []),
    step(to, {
      id: `batch-replication-${to.site}`,
      kind: "batchReplication",
      title: `S3 Batch Replication of ${to.site}'s bucket (objects written meanwhile)`,
      calls: [{ region: to.region, service: "S3 Control", action: "CreateJob S3ReplicateObject" }],
    }),
  ];
}

function preflight(c: Ctx, direction: Direction): Step {
  const { from, to } = c;
  const replica = direction === "failover" || direction === "failback";
  return step(to, {
    id: "preflight",
    kind: "preflight",
    title:
      direction === "failover"
        ? `preflight: ${to.site} is still a replica (RPO bound), master secrets, state location, newest backup`
        : `preflight: master secrets, state location, newest backup of ${from.site}`,
    calls: [
      ...(replica ? [database(to, "SELECT now(), pg_last_xact_replay_timestamp()")] : []),
      {
        region: to.region,
        service: "Secrets Manager",
        action: "GetSecretValue of both master secrets",
      },
      { region: to.region, service: "S3", action: `ListObjectsV2 of ${to.site}'s bucket` },
    ],
  });
}

/** Failback first rebuilds `to` as a replica of the current primary and lets it catch up. */
function rebuild(c: Ctx): Step[] {
  const { to } = c;
  const up = pulumi(to, `pulumi up (resources in ${to.region} only)`);
  return [
    step(to, {
      id: `rebuild-${to.site}`,
      kind: "rebuild",
      title: `rebuild ${to.site} as standby of ${c.from.site} (replaces its database)`,
      changes: [
        { op: "set", key: ALLOW_REBUILD_KEY, value: "true", path: true },
        ...moveTo("standby", deployedRole(to, "fenced")),
      ],
      up: true,
      settle: moveDone,
      calls: [up],
    }),
    step(to, {
      // allowRebuild lifts deletion protection; an update with it removed puts protection back on
      // the new replica now rather than at the next promotion, which may be hours away.
      id: `reprotect-${to.site}`,
      kind: "reprotect",
      title: `re-protect ${to.site}: remove database.allowRebuild`,
      changes: [{ op: "remove", key: ALLOW_REBUILD_KEY, path: true }],
      up: true,
      calls: [up],
    }),
    step(to, {
      id: `wait-lag-${to.site}`,
      kind: "waitLag",
      title: `wait for ${to.site} replica lag under the limit`,
      calls: [database(to, "SELECT now() - pg_last_xact_replay_timestamp()")],
    }),
  ];
}

export function buildPlan(
  direction: Direction,
  topology: Topology,
  to: SiteState,
  stem: (site: SiteState) => string,
): Plan {
  const from = peerOf(topology, to.site);
  const c: Ctx = { from, to, stem };
  const steps: Step[] = {
    failover: () => [preflight(c, direction), ...activate(c, false), checkDns(to)],
    reconcile: () => reconcile(c, false),
    reconnect: () => reconnect(c, true),
    rebuild: () => rebuild(c),
    // Both regions answer: the links come back in the same update that settles the new primary.
    failback: () => [
      preflight(c, direction),
      ...rebuild(c),
      ...activate(c, true),
      ...reconcile(c, true),
      ...reconnect(c, false),
      checkDns(to),
    ],
  }[direction]();
  return { direction, to, from, steps };
}

/** `us-west-2 ARC Region switch: StartPlanExecution …`, one line per call. */
export function describeCall(t: CallTarget): string {
  const where = t.region === "pulumi" ? "Pulumi CLI/state" : t.region;
  return `${where} ${t.service}: ${t.action}`;
}
