import type { Role } from "../../../components/config";
import { trafficControl } from "../../../components/naming";
import type { SiteState, Topology } from "./topology";
import { peerOf } from "./topology";

export type Direction = "failover" | "failback" | "reconnect";

/** One config edit, as `pulumi config set|rm [--path] <key> [value] -s <stack>` would make it. */
export interface ConfigChange {
  readonly op: "set" | "remove";
  readonly key: string;
  readonly value?: string;
  readonly path: boolean;
}

export type StepKind =
  | "preflight"
  | "trafficOff"
  | "sqlFence"
  | "drain"
  | "rebuild"
  | "reprotect"
  | "waitLag"
  | "promote"
  | "trafficOn"
  | "checkWrite"
  | "checkDns"
  | "regionBack"
  | "fenceStack"
  | "links"
  | "batchReplication";

/** Where one remote call of a step goes: what --plan prints and the report's call log names. */
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
  /** waitLag only: the lag to wait for, when not --max-lag. */
  readonly lagLimitSeconds?: number;
  /**
   * When the step cannot do its work: `fail` stops the run (re-running resumes here), `skip`
   * records why, warns, and goes on. A failover skips what needs the failed region.
   */
  readonly onFailure: "fail" | "skip";
  /** Every remote call the step makes, for --plan. */
  readonly calls: readonly CallTarget[];
}

export interface Plan {
  readonly direction: Direction;
  /** The site that becomes (or, for reconnect, is) primary. */
  readonly to: SiteState;
  /** The site that stops being primary. */
  readonly from: SiteState;
  readonly steps: readonly Step[];
}

export interface PlanOptions {
  /** `--skip-fence`: no traffic control and no SQL fence before promotion. */
  readonly skipFence: boolean;
}

export const ROLE_KEY = "dr-stack:role";
export const ALLOW_REBUILD_KEY = "dr-stack:database.allowRebuild";
export const PREVIOUS_ROLE_KEY = "dr-stack:database.previousRole";
/** Contract C1: when false the site creates none of its data links into the peer region. */
export const PEER_LINKS_KEY = "dr-stack:peerLinks";

/**
 * A role change, declared: the program checks `previousRole -> role` against the state machine
 * before it registers anything (components/database/transition.ts), so a step that would make an invalid
 * move fails its `up` with the reason instead of half-applying it.
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

/**
 * The role a site has deployed: the one a failed run declared it was leaving, else its role, else
 * (config unreadable) what the plan expects there.
 */
const deployedRole = (site: SiteState, expected: Role): Role =>
  site.previousRole ?? site.role ?? expected;

/** After the move's `up`: the declaration is spent, and a stale one must not vouch for the next. */
const moveDone: readonly ConfigChange[] = [{ op: "remove", key: PREVIOUS_ROLE_KEY, path: true }];

const pulumiUp = (s: SiteState): CallTarget => ({
  region: s.region,
  service: `Pulumi stack ${s.stack}`,
  action: `pulumi up (resources in ${s.region} only)`,
});

const database = (s: SiteState, action: string): CallTarget => ({
  region: s.region,
  service: "PostgreSQL",
  action: `${action} on ${s.site}'s database`,
});

/** Contract C3: a site's traffic control is a metric in its peer's region. */
const traffic = (site: SiteState, peer: SiteState, on: boolean): CallTarget => ({
  region: peer.region,
  service: "CloudWatch",
  action:
    `PutMetricData ${trafficControl.namespace} ${trafficControl.metricName}=${on ? 1 : 0} ` +
    `${trafficControl.dimensionName}=${site.site}`,
});

const stackOutputs = (s: SiteState): CallTarget => ({
  region: "pulumi",
  service: `Pulumi stack ${s.stack}`,
  action: "read outputs (dbEndpoint)",
});

interface Ctx {
  readonly direction: Direction;
  readonly from: SiteState;
  readonly to: SiteState;
  readonly masterSecretName: (site: SiteState) => string;
}

type StepFields = Omit<Step, "site" | "stack" | "changes" | "up" | "onFailure"> & Partial<Step>;

/** A step about `at`'s site and stack. */
function step(at: SiteState, s: StepFields): Step {
  return { site: at.site, stack: at.stack, changes: [], up: false, onFailure: "fail", ...s };
}

/** A step that changes `at`'s config and runs `pulumi up` on its stack. */
function upStep(at: SiteState, s: Omit<StepFields, "calls">): Step {
  return step(at, { up: true, calls: [pulumiUp(at)], ...s });
}

const readSecret = (region: string, what: string): CallTarget => ({
  region,
  service: "Secrets Manager",
  action: `GetSecretValue ${what}`,
});

/** Traffic control of the new primary on: it lives in the old primary's region (C3). */
function trafficOn(c: Ctx, onFailure: Step["onFailure"]): Step {
  const { from, to } = c;
  return step(to, {
    id: `traffic-on-${to.site}`,
    kind: "trafficOn",
    title: `traffic control of ${to.site} on (in ${from.region})`,
    onFailure,
    calls: [traffic(to, from, true)],
  });
}

/** Traffic control of the old primary off, then its database read-only if it answers. */
function fence(c: Ctx): Step[] {
  const { from, to, direction } = c;
  // A failover goes on without the old region; a planned switchover never promotes unfenced.
  const onFailure = direction === "failover" ? "skip" : "fail";
  return [
    step(from, {
      id: `traffic-off-${from.site}`,
      kind: "trafficOff",
      title: `traffic control of ${from.site} off (in ${to.region})`,
      calls: [traffic(from, to, false)],
    }),
    step(from, {
      id: `sql-fence-${from.site}`,
      kind: "sqlFence",
      title: `SQL fence of ${from.site}: default_transaction_read_only, end sessions`,
      onFailure,
      calls: [
        readSecret(to.region, `${c.masterSecretName(from)} (its replica in ${to.region})`),
        stackOutputs(from),
        database(
          from,
          "ALTER DATABASE … SET default_transaction_read_only = on; pg_terminate_backend",
        ),
      ],
    }),
    step(to, {
      id: `drain-${to.site}`,
      kind: "drain",
      title: `wait for ${to.site} to replay ${from.site}'s last write`,
      onFailure,
      calls: [database(to, "SELECT pg_last_wal_replay_lsn()")],
    }),
  ];
}

function promote(c: Ctx): Step[] {
  const { to } = c;
  return [
    upStep(to, {
      id: `promote-${to.site}`,
      kind: "promote",
      title: `promote ${to.site}: standby -> promoting (detach replica, peerLinks false)`,
      // Contract C1: the promotion creates no link into the peer region, so it needs nothing there.
      changes: [...moveTo("promoting", "standby"), peerLinks(false)],
      settle: moveDone,
    }),
    upStep(to, {
      id: `primary-${to.site}`,
      kind: "promote",
      title: `promote ${to.site}: promoting -> primary`,
      changes: moveTo("primary", "promoting"),
      settle: moveDone,
    }),
  ];
}

function after(c: Ctx): Step[] {
  const { to, direction } = c;
  return [
    // The control of the new primary lives in the old region (C3): best effort in a failover.
    trafficOn(c, direction === "failover" ? "skip" : "fail"),
    step(to, {
      id: `check-write-${to.site}`,
      kind: "checkWrite",
      title: `check ${to.site} takes a write`,
      calls: [
        readSecret(to.region, c.masterSecretName(to)),
        stackOutputs(to),
        database(to, "BEGIN; CREATE TABLE …; ROLLBACK"),
      ],
    }),
    step(to, {
      id: `check-dns-${to.site}`,
      kind: "checkDns",
      title: `check DNS answers with ${to.site}`,
      calls: [{ region: "global", service: "DNS", action: "resolve the service's record" }],
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
  // A failback runs these inline, right after its own traffic-on step, with both regions up.
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
        // A failover could only try this: the control of the new primary lives in the old region.
        trafficOn(c, "fail"),
      ]
    : [];
  return [
    ...first,
    upStep(from, {
      id: `fence-stack-${from.site}`,
      kind: "fenceStack",
      title: `reconcile ${from.site}'s stack: -> fenced (if it still says primary)`,
      changes: moveTo("fenced", deployedRole(from, "primary")),
      settle: moveDone,
    }),
    step(to, {
      id: `links-${to.site}`,
      kind: "links",
      title: `reconnect ${to.site}'s links into ${from.region} (peerLinks true)`,
      changes: [peerLinks(true)],
      up: true,
      calls: [
        {
          region: to.region,
          service: `Pulumi stack ${to.stack}`,
          action: `pulumi up (S3 replication, automated-backups replication, Backup copies to ${from.region})`,
        },
      ],
    }),
    step(to, {
      id: `batch-replication-${to.site}`,
      kind: "batchReplication",
      title: `S3 Batch Replication of ${to.site}'s bucket (objects written meanwhile)`,
      calls: [{ region: to.region, service: "S3 Control", action: "CreateJob S3ReplicateObject" }],
    }),
  ];
}

function preflight(c: Ctx): Step {
  const { direction, from, to } = c;
  if (direction === "failover") {
    return step(to, {
      id: "preflight",
      kind: "preflight",
      title: `preflight: RPO bound from ${to.site}'s replica, newest backup`,
      calls: [
        database(to, "SELECT now(), pg_last_xact_replay_timestamp()"),
        { region: to.region, service: "S3", action: `ListObjectsV2 of ${to.site}'s bucket` },
      ],
    });
  }
  return step(to, {
    id: "preflight",
    kind: "preflight",
    title: `preflight: newest backup of ${from.site}`,
    calls: [
      { region: from.region, service: "S3", action: `ListObjectsV2 of ${from.site}'s bucket` },
    ],
  });
}

/** Failback first rebuilds `to` as a replica of the current primary and lets it catch up. */
function rebuild(c: Ctx): Step[] {
  const { to } = c;
  return [
    upStep(to, {
      id: `rebuild-${to.site}`,
      kind: "rebuild",
      title: `rebuild ${to.site} as standby of ${c.from.site} (replaces its database)`,
      changes: [
        { op: "set", key: ALLOW_REBUILD_KEY, value: "true", path: true },
        ...moveTo("standby", deployedRole(to, "fenced")),
      ],
      settle: moveDone,
    }),
    upStep(to, {
      // allowRebuild lifts deletion protection; an update with it removed puts protection back on
      // the new replica now rather than at the next promotion, which may be hours away.
      id: `reprotect-${to.site}`,
      kind: "reprotect",
      title: `re-protect ${to.site}: remove database.allowRebuild`,
      changes: [{ op: "remove", key: ALLOW_REBUILD_KEY, path: true }],
    }),
    step(to, {
      id: `wait-lag-${to.site}`,
      kind: "waitLag",
      title: `wait for ${to.site} replica lag under the limit`,
      calls: [database(to, "SELECT now() - pg_last_xact_replay_timestamp()")],
    }),
  ];
}

/**
 * Failover to `to`: fence what can be fenced, promote `to` in its own region only, switch its
 * traffic on, check. Failback to `to` (today fenced): rebuild it as a replica of the current
 * primary, wait for it, then the same switchover with both regions up — every fence required —
 * and the reconnect inline. Reconnect: what a failover leaves for when the old region is back.
 */
export function buildPlan(
  direction: Direction,
  topology: Topology,
  to: SiteState,
  masterSecretName: (site: SiteState) => string,
  opts: PlanOptions,
): Plan {
  const from = peerOf(topology, to.site);
  const c: Ctx = { direction, from, to, masterSecretName };
  const fenceSteps = opts.skipFence ? [] : fence(c);
  let steps: Step[];
  if (direction === "reconnect") steps = reconnect(c, true);
  else if (direction === "failover")
    steps = [preflight(c), ...fenceSteps, ...promote(c), ...after(c)];
  else
    steps = [
      preflight(c),
      ...rebuild(c),
      ...fenceSteps,
      ...promote(c),
      ...after(c),
      ...reconnect(c, false),
    ];
  return { direction, to, from, steps };
}

/** The change as the pulumi command an operator would type. */
export function describeChange(c: ConfigChange, stack: string): string {
  const path = c.path ? " --path" : "";
  return c.op === "set"
    ? `pulumi config set${path} ${c.key} ${c.value ?? ""} --stack ${stack}`
    : `pulumi config rm${path} ${c.key} --stack ${stack}`;
}

/** `us-west-2 CloudWatch: PutMetricData …`, one line per call. */
export function describeCall(t: CallTarget): string {
  const where = t.region === "pulumi" ? "Pulumi CLI/state" : t.region;
  return `${where} ${t.service}: ${t.action}`;
}
