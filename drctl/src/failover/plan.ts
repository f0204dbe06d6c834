import type { Role } from "../../../components/config";
import { failoverSetIdentifier } from "../../../components/naming";
import type { FailoverRecordRef } from "./ports";
import type { SiteState, Topology } from "./topology";
import { peerOf } from "./topology";

export type Direction = "failover" | "failback";

/** One config edit, as `pulumi config set|rm [--path] <key> [value] -s <stack>` would make it. */
export interface ConfigChange {
  readonly op: "set" | "remove";
  readonly key: string;
  readonly value?: string;
  readonly path: boolean;
}

export type StepKind =
  | "preflight"
  | "fence"
  | "rebuild"
  | "reprotect"
  | "promote"
  | "releaseDns"
  | "waitLag"
  | "checkWrite"
  | "checkDns";

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
  /** waitLag only: the lag to wait for, when not --max-lag. */
  readonly lagLimitSeconds?: number;
  /** releaseDns only: the old site's record to delete. */
  readonly dnsRecord?: FailoverRecordRef;
  /**
   * Runs only if the step with this id was skipped; otherwise it is passed over and leaves no
   * record in the state or the report (it had nothing to do).
   */
  readonly onlyIfSkipped?: string;
}

export interface Plan {
  readonly direction: Direction;
  /** The site that becomes primary. */
  readonly to: SiteState;
  /** The site that stops being primary. */
  readonly from: SiteState;
  readonly steps: readonly Step[];
}

export const ROLE_KEY = "dr-stack:role";
export const ALLOW_REBUILD_KEY = "dr-stack:database.allowRebuild";
export const PREVIOUS_ROLE_KEY = "dr-stack:database.previousRole";

/**
 * A role change, declared: the program checks `previousRole -> role` against the state machine
 * before it registers anything (components/dbTransition.ts), so a step that would make an invalid
 * move fails its `up` with the reason instead of half-applying it.
 */
const moveTo = (role: Role, leaving: Role): ConfigChange[] => [
  { op: "set", key: ROLE_KEY, value: role, path: false },
  { op: "set", key: PREVIOUS_ROLE_KEY, value: leaving, path: true },
];

/**
 * The role a site has deployed: the one a failed run declared it was leaving, else its role, else
 * (config unreadable) what the plan expects there.
 */
const deployedRole = (site: SiteState, expected: Role): Role =>
  site.previousRole ?? site.role ?? expected;

/** After the move's `up`: the declaration is spent, and a stale one must not vouch for the next. */
const moveDone: readonly ConfigChange[] = [{ op: "remove", key: PREVIOUS_ROLE_KEY, path: true }];

/**
 * Steps a site goes through, in order (DESIGN §3). Promotion is two updates because the provider cannot
 * detach a replica and set primary-only settings in one (terraform-provider-aws #4419).
 */
function switchover(
  direction: Direction,
  from: SiteState,
  to: SiteState,
  oldRecord: FailoverRecordRef | undefined,
): Step[] {
  const fence: Step = {
    id: `fence-${from.site}`,
    kind: "fence",
    title: `fence ${from.site}: ${from.role ?? "unknown"} -> fenced`,
    site: from.site,
    stack: from.stack,
    // The site being fenced is the primary, even when its config could not be read.
    changes: moveTo("fenced", deployedRole(from, "primary")),
    up: true,
    settle: moveDone,
  };
  // A planned switchover loses nothing: once the old primary is read-only, wait for the replica to
  // apply the last writes (lag 0) before detaching it. AWS recommends the same before promote-read-replica.
  const drain: Step[] =
    direction === "failback"
      ? [
          {
            id: `drain-${to.site}`,
            kind: "waitLag",
            title: `wait for ${to.site} replica lag 0 (last writes applied)`,
            site: to.site,
            stack: to.stack,
            changes: [],
            up: false,
            lagLimitSeconds: 0,
          },
        ]
      : [];
  // Route 53 keeps one PRIMARY per name and type. Fencing deletes the old site's record; when a
  // failover skips fencing (old region unreachable) that record stays and the promoting -> primary
  // update fails with InvalidChangeBatch. Route 53 is global and the record is named from shared
  // config, so it is deleted directly, right before the update that needs its slot: by then the
  // target's database is writable, and its SECONDARY (alone in the set) takes the traffic.
  const release: Step[] =
    oldRecord && direction === "failover"
      ? [
          {
            id: `release-dns-${from.site}`,
            kind: "releaseDns",
            title: `release ${from.site}'s DNS record (delete PRIMARY ${oldRecord.setIdentifier})`,
            site: from.site,
            stack: from.stack,
            changes: [],
            up: false,
            dnsRecord: oldRecord,
            onlyIfSkipped: fence.id,
          },
        ]
      : [];
  return [
    fence,
    ...drain,
    {
      id: `promote-${to.site}`,
      kind: "promote",
      title: `promote ${to.site}: standby -> promoting (detach replica)`,
      site: to.site,
      stack: to.stack,
      changes: moveTo("promoting", "standby"),
      up: true,
      settle: moveDone,
    },
    ...release,
    {
      id: `primary-${to.site}`,
      kind: "promote",
      title: `promote ${to.site}: promoting -> primary`,
      site: to.site,
      stack: to.stack,
      changes: moveTo("primary", "promoting"),
      up: true,
      settle: moveDone,
    },
    {
      id: `check-write-${to.site}`,
      kind: "checkWrite",
      title: `check ${to.site} takes a write`,
      site: to.site,
      stack: to.stack,
      changes: [],
      up: false,
    },
    {
      id: `check-dns-${to.site}`,
      kind: "checkDns",
      title: `check DNS answers with ${to.site}`,
      site: to.site,
      stack: to.stack,
      changes: [],
      up: false,
    },
  ];
}

/**
 * Failover to `to`: fence the primary, promote `to`. Failback to `to` (today fenced or standby): rebuild it
 * as a replica of the current primary, wait for it to catch up, then the same switchover as a failover.
 */
export function buildPlan(direction: Direction, topology: Topology, to: SiteState): Plan {
  const from = peerOf(topology, to.site);
  const oldRecord = failoverRecordOf(topology, from);
  const preflight: Step = {
    id: "preflight",
    kind: "preflight",
    title:
      direction === "failover"
        ? `preflight: replica lag of ${to.site}, newest backup`
        : `preflight: newest backup of ${from.site}`,
    site: to.site,
    stack: to.stack,
    changes: [],
    up: false,
  };
  if (direction === "failover")
    return {
      direction,
      to,
      from,
      steps: [preflight, ...switchover(direction, from, to, oldRecord)],
    };
  const rebuild: Step[] = [
    {
      id: `rebuild-${to.site}`,
      kind: "rebuild",
      title: `rebuild ${to.site} as standby of ${from.site} (replaces its database)`,
      site: to.site,
      stack: to.stack,
      changes: [
        { op: "set", key: ALLOW_REBUILD_KEY, value: "true", path: true },
        ...moveTo("standby", deployedRole(to, "fenced")),
      ],
      up: true,
      settle: moveDone,
    },
    {
      // allowRebuild lifts deletion protection; an update with it removed puts protection back on
      // the new replica now rather than at the next promotion, which may be hours away.
      id: `reprotect-${to.site}`,
      kind: "reprotect",
      title: `re-protect ${to.site}: remove database.allowRebuild`,
      site: to.site,
      stack: to.stack,
      changes: [{ op: "remove", key: ALLOW_REBUILD_KEY, path: true }],
      up: true,
    },
    {
      id: `wait-lag-${to.site}`,
      kind: "waitLag",
      title: `wait for ${to.site} replica lag under the limit`,
      site: to.site,
      stack: to.stack,
      changes: [],
      up: false,
    },
  ];
  return {
    direction,
    to,
    from,
    steps: [preflight, ...rebuild, ...switchover(direction, from, to, oldRecord)],
  };
}

/**
 * The site's failover record as its stack declares it (components/dnsFailover.ts), from the shared
 * `dr-stack:dns` config (DESIGN §2); undefined when the stacks publish no DNS.
 */
export function failoverRecordOf(
  topology: Topology,
  site: SiteState,
): FailoverRecordRef | undefined {
  const { dns, name, accountId, partition } = topology.config;
  if (!dns) return undefined;
  return {
    zoneId: dns.zoneId,
    recordName: dns.recordName,
    recordType: dns.recordType,
    setIdentifier: failoverSetIdentifier(
      { name, accountId, partition },
      { site: site.site, region: site.region },
    ),
  };
}

/** The change as the pulumi command an operator would type. */
export function describeChange(c: ConfigChange, stack: string): string {
  const path = c.path ? " --path" : "";
  return c.op === "set"
    ? `pulumi config set${path} ${c.key} ${c.value ?? ""} --stack ${stack}`
    : `pulumi config rm${path} ${c.key} --stack ${stack}`;
}
