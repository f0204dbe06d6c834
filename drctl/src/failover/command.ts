import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { siteStem, type NamingInput } from "../../../components/naming";
import { EXIT, UsageError } from "../errors";
import { FAILOVER_USAGE } from "../failoverUsage";
import { errorText } from "./checks";
import { parseDeadlines, withDeadline, type Deadlines } from "./deadlines";
import { formatSeconds, parseDurationSeconds } from "./duration";
import { FailoverMachine } from "./machine";
import { buildPlan, type Direction, type Plan } from "./plan";
import { systemClock, type Clock, type Controls, type Probes, type StackOps } from "./ports";
import type { ExecutionMode, RegionSwitchClient } from "./regionSwitch/client";
import { printActivation } from "./regionSwitch/execution";
import { buildReport, formatTimeline } from "./report";
import { stateLocationProblems, type StateLocations } from "./stateLocation";
import {
  archiveState,
  defaultStatePath,
  loadState,
  otherRunsInProgress,
  reportPath,
  type CallRecord,
  type RunState,
} from "./stateFile";
import {
  findSite,
  peerOf,
  readTopology,
  STACK_NAMES,
  type SiteState,
  type Topology,
} from "./topology";

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** What the command runs against; tests pass fakes, failoverCommand the Automation API and AWS. */
export interface FailoverDeps {
  readonly ops: StackOps;
  /**
   * A stack's config from its Pulumi.<stack>.yaml in the work directory: what `drctl failover`
   * reads, so starting the plan needs neither the Pulumi CLI nor the state backend.
   */
  readonly stackFile: (stack: string) => Promise<Record<string, string>>;
  readonly stateLocations: StateLocations;
  /** Probes and controls need names and regions, known once the stacks' config has been read. */
  readonly probes: (topology: Topology) => Probes;
  readonly controls: (topology: Topology) => Controls;
  readonly regionSwitch: (region: string) => RegionSwitchClient;
  readonly clock: Clock;
}

interface Options {
  readonly direction: Direction;
  readonly to: string;
  readonly print: boolean;
  readonly mode: ExecutionMode;
  readonly planName?: string;
  readonly maxDataLossSeconds?: number;
  readonly maxLagSeconds?: number;
  readonly lagTimeoutSeconds: number;
  readonly checkTimeoutSeconds: number;
  readonly followTimeoutSeconds: number;
  readonly deadlines: Deadlines;
  readonly workDir: string;
  readonly statePath: string;
}

function duration(flag: string, text: string | undefined, fallback?: number): number | undefined {
  if (text === undefined) return fallback;
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) {
    throw new UsageError(
      `--${flag} ${JSON.stringify(text)} is not a duration; expected e.g. 30s, 5m or 1h`,
    );
  }
  return seconds;
}

/** Flags each direction takes besides --to, --deadline, --work-dir, --state-file. */
const ONLY: Record<string, readonly Direction[]> = {
  print: ["failover"],
  mode: ["failover"],
  "plan-name": ["failover", "failback"],
  "max-data-loss": ["failover"],
  "follow-timeout": ["failover", "failback"],
  "max-lag": ["failback", "rebuild"],
  "lag-timeout": ["failback", "rebuild"],
};

function parseOptions(argv: readonly string[]): Options | "help" {
  const sub = argv[0] === "failover" ? argv[1] : undefined;
  const given = sub === "reconcile" || sub === "reconnect" || sub === "rebuild" ? sub : argv[0];
  const directions: readonly string[] = [
    "failover",
    "failback",
    "reconcile",
    "reconnect",
    "rebuild",
  ];
  if (given === undefined || !directions.includes(given)) {
    throw new UsageError(
      `unknown command ${JSON.stringify(given)}; expected failover, failover reconcile, ` +
        `failover reconnect, failover rebuild or failback`,
    );
  }
  const direction = given as Direction;
  const name =
    direction === "failover" || direction === "failback" ? direction : `failover ${direction}`;
  let values;
  try {
    ({ values } = parseArgs({
      args: argv.slice(name.includes(" ") ? 2 : 1),
      strict: true,
      allowPositionals: false,
      options: {
        to: { type: "string" },
        print: { type: "boolean", default: false },
        mode: { type: "string" },
        "plan-name": { type: "string" },
        "max-data-loss": { type: "string" },
        "max-lag": { type: "string" },
        "lag-timeout": { type: "string" },
        "check-timeout": { type: "string" },
        "follow-timeout": { type: "string" },
        deadline: { type: "string", multiple: true, default: [] },
        "work-dir": { type: "string" },
        "state-file": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
  if (values.help) return "help";
  if (!values.to) {
    throw new UsageError(
      `${name}: --to <site> is required: name the site that ${direction === "failover" || direction === "failback" ? "should become" : "is"} ` +
        `primary (a key of dr-stack:sites, e.g. --to usw2)`,
    );
  }
  for (const [flag, allowed] of Object.entries(ONLY)) {
    const v = values[flag as keyof typeof values];
    if (v === undefined || v === false || allowed.includes(direction)) continue;
    throw new UsageError(
      `${name}: --${flag} is for ${allowed.map((d) => `drctl ${d}`).join(" and ")} only`,
    );
  }
  const mode = values.mode ?? "ungraceful";
  if (mode !== "graceful" && mode !== "ungraceful") {
    throw new UsageError(
      `--mode must be ungraceful (the other region is impaired: its steps are skipped) or graceful ` +
        `(a planned switchover with both regions up), got "${mode}"`,
    );
  }
  let deadlines: Deadlines;
  try {
    deadlines = parseDeadlines(values.deadline);
  } catch (err) {
    throw new UsageError(errorText(err));
  }
  const workDir = resolve(values["work-dir"] ?? process.cwd());
  return {
    direction,
    to: values.to,
    print: values.print,
    mode,
    planName: values["plan-name"],
    maxDataLossSeconds: duration("max-data-loss", values["max-data-loss"]),
    maxLagSeconds: duration("max-lag", values["max-lag"]),
    lagTimeoutSeconds: duration("lag-timeout", values["lag-timeout"], 3600) as number,
    checkTimeoutSeconds: duration("check-timeout", values["check-timeout"], 300) as number,
    followTimeoutSeconds: duration("follow-timeout", values["follow-timeout"], 3600) as number,
    deadlines,
    workDir,
    statePath: resolve(values["state-file"] ?? defaultStatePath(workDir, direction, values.to)),
  };
}

function targetSite(o: Options, topology: Topology): SiteState {
  const target = findSite(topology, o.to);
  if (!target) {
    const known = topology.sites.map((s) => `${s.site} (stack ${s.stack})`).join(", ");
    throw new UsageError(
      `unknown site ${JSON.stringify(o.to)}: the stacks define ${known}; pass one of those to --to`,
    );
  }
  return target;
}

/**
 * A fresh run must start from the roles its direction expects (a resumed one is mid-transition).
 * Returns a message when there is nothing to do.
 */
function checkRoles(o: Options, topology: Topology): string | undefined {
  const target = targetSite(o, topology);
  const peer = peerOf(topology, o.to);
  const role = target.role;
  if (role === undefined) {
    throw new UsageError(
      `cannot read stack ${target.stack} of ${target.site} (${target.unreadable ?? "no config"}); ` +
        `the site that becomes primary must be readable. Fix access (pulumi whoami, AWS credentials) and re-run.`,
    );
  }
  switch (o.direction) {
    case "failover":
      if (role === "primary") {
        throw new UsageError(
          `stack ${target.stack} already says ${o.to} is primary; to move the primary to ${peer.site}, run drctl failover --to ${peer.site}`,
        );
      }
      if (role !== "standby") {
        throw new UsageError(
          `${o.to} is ${role}, not standby: the plan promotes a standby. To bring ${o.to} back, run drctl failback --to ${o.to}.`,
        );
      }
      return undefined;
    case "reconcile":
      if (role === "primary" && target.previousRole === undefined && peer.role !== "primary") {
        return `stack ${target.stack} already says ${o.to} is primary and ${peer.site} is ${peer.role ?? "unreadable"}: nothing to reconcile`;
      }
      if (role !== "standby" && role !== "primary") {
        throw new UsageError(
          `reconcile follows the plan's activation of ${o.to}, whose stack says ${role}; run drctl failover --to ${o.to} first`,
        );
      }
      return undefined;
    case "reconnect":
      if (role !== "primary") {
        throw new UsageError(
          `reconnect follows a failover to ${o.to}, but ${o.to} is ${role}; run drctl failover --to ${o.to} and drctl failover reconcile --to ${o.to} first`,
        );
      }
      if (peer.role === undefined) {
        throw new UsageError(
          `cannot read stack ${peer.stack} of ${peer.site} (${peer.unreadable ?? "no config"}); reconnect ` +
            `updates that stack, so its state must answer. Re-run once ${peer.region} is back.`,
        );
      }
      return undefined;
    case "rebuild":
      if (role !== "fenced") {
        throw new UsageError(
          `rebuild makes a fenced site the standby again, but ${o.to} is ${role}` +
            (role === "standby" ? ": it already is one" : ""),
        );
      }
      if (peer.role !== "primary") {
        throw new UsageError(
          `rebuild makes ${o.to} a replica of the primary, but ${peer.site} is ${peer.role ?? "unreadable"}`,
        );
      }
      return undefined;
    case "failback":
      if (role === "primary") {
        throw new UsageError(`${o.to} is already the primary (stack ${target.stack})`);
      }
      if (peer.role !== "primary") {
        throw new UsageError(
          `failback to ${o.to} needs ${peer.site} to be primary, but it is ${peer.role ?? "unreadable"}; ` +
            `run drctl failover --to ${peer.site} and its reconcile first.`,
        );
      }
      return undefined;
  }
}

function freshState(plan: Plan, startedAt: number): RunState {
  return {
    version: 3,
    direction: plan.direction,
    to: plan.to.site,
    from: plan.from.site,
    startedAt: new Date(startedAt).toISOString(),
    steps: plan.steps.map((s) => ({ id: s.id, title: s.title, status: "pending", attempts: 0 })),
    warnings: [],
    calls: [],
  };
}

/** `drctl failover|failback|failover reconcile|failover reconnect`, against the given deps. */
export async function runFailover(
  argv: readonly string[],
  io: CommandIo,
  makeDeps: (workDir: string) => FailoverDeps,
): Promise<number> {
  const err = (line: string) => io.stderr.write(line + "\n");
  let o: Options;
  try {
    const parsed = parseOptions(argv);
    if (parsed === "help") {
      io.stdout.write(FAILOVER_USAGE);
      return EXIT.ok;
    }
    o = parsed;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`drctl: ${e.message}`);
    err(FAILOVER_USAGE);
    return EXIT.usage;
  }
  const name =
    o.direction === "failover" || o.direction === "failback"
      ? o.direction
      : `failover ${o.direction}`;
  try {
    return await execute(o, io, makeDeps(o.workDir));
  } catch (e) {
    err(`drctl ${name}: ${errorText(e)}`);
    return e instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
}

/**
 * Both stacks' config. `drctl failover` reads the stack files only (no Pulumi CLI, no backend);
 * the other directions change stacks, so they read through the CLI, each read bounded.
 */
async function topologyFor(o: Options, deps: FailoverDeps, reads: CallRecord[]): Promise<Topology> {
  if (o.direction === "failover") return readTopology((stack) => deps.stackFile(stack));
  return readTopology(async (stack) => {
    const target = `Pulumi CLI/state Pulumi stack ${stack}: read config`;
    const t = deps.clock.now();
    const entry = { step: "read-stacks", target, deadlineSeconds: o.deadlines.stack };
    try {
      const config = await withDeadline(deps.clock, target, o.deadlines.stack, (s) =>
        deps.ops.getAllConfig(stack, s),
      );
      reads.push({ ...entry, outcome: "ok", seconds: (deps.clock.now() - t) / 1000 });
      return config;
    } catch (err) {
      reads.push({
        ...entry,
        outcome: "failed",
        seconds: (deps.clock.now() - t) / 1000,
        error: errorText(err),
      });
      throw err;
    }
  });
}

async function execute(o: Options, io: CommandIo, deps: FailoverDeps): Promise<number> {
  const out = (line: string) => io.stdout.write(line + "\n");
  const existing = loadState(o.statePath);
  if (existing && (existing.direction !== o.direction || existing.to !== o.to)) {
    throw new UsageError(
      `${o.statePath} holds an unfinished ${existing.direction} to ${existing.to} started ${existing.startedAt}, ` +
        `not a ${o.direction} to ${o.to}. Finish it first (re-run its command), ` +
        `or if it was abandoned, move the file aside to start over.`,
    );
  }
  if (!existing && !o.print) {
    const others = otherRunsInProgress(dirname(o.statePath), o.statePath);
    if (others.length > 0) {
      throw new UsageError(
        `an unfinished run is recorded in ${others.join(", ")}; finish it first (re-run its command), ` +
          `or if it was abandoned, move the file aside.`,
      );
    }
  }
  const startedAt = deps.clock.now();
  const reads: CallRecord[] = [];
  const topology = await topologyFor(o, deps, reads);
  const target = targetSite(o, topology);
  const { name, accountId, partition } = topology.config;
  const naming: NamingInput = { name, accountId, partition };
  const regions = [topology.sites[0].region, topology.sites[1].region] as const;

  if (o.print) {
    out(
      printActivation({
        region: target.region,
        accountId,
        regions,
        mode: o.mode,
        planName: o.planName,
        site: target.site,
      }),
    );
    return EXIT.ok;
  }
  if (!existing) {
    const nothing = checkRoles(o, topology);
    if (nothing) {
      out(nothing);
      return EXIT.ok;
    }
  }
  const plan = buildPlan(o.direction, topology, target, (s) => siteStem(naming, s));
  const state = existing ?? freshState(plan, startedAt);
  state.calls.push(...reads);
  out(
    existing
      ? `resuming the ${o.direction} to ${o.to} started ${state.startedAt} at: ${state.steps.find((s) => s.status !== "done" && s.status !== "skipped")?.title ?? "the end"}`
      : `${o.direction} to ${o.to} (stack ${plan.to.stack}, ${plan.to.region}) from ${plan.from.site} (stack ${plan.from.stack}, ${plan.from.region})`,
  );
  const machine = new FailoverMachine({
    plan,
    state,
    statePath: o.statePath,
    ops: deps.ops,
    probes: deps.probes(topology),
    controls: deps.controls(topology),
    regionSwitch: deps.regionSwitch,
    planQuery: { accountId, regions, name: o.planName },
    naming,
    mode: o.mode,
    stateProblems: stateLocationProblems(deps.stateLocations, regions),
    clock: deps.clock,
    deadlines: o.deadlines,
    maxDataLossSeconds: o.maxDataLossSeconds,
    maxLagSeconds: o.maxLagSeconds ?? topology.config.alarms.replicaLagSeconds,
    backupMaxAgeSeconds: topology.config.alarms.backupMaxAgeHours * 3600,
    lagTimeoutSeconds: o.lagTimeoutSeconds,
    checkTimeoutSeconds: o.checkTimeoutSeconds,
    followTimeoutSeconds: o.followTimeoutSeconds,
    log: out,
    warn: (line) => io.stderr.write(`WARNING: ${line}\n`),
  });
  const outcome = await machine.run();
  const report = buildReport(plan, state, outcome);
  const reportFile = reportPath(o.statePath, state);
  mkdirSync(dirname(reportFile), { recursive: true });
  writeFileSync(reportFile, JSON.stringify(report, null, 2) + "\n");
  io.stdout.write(formatTimeline(report));
  out(`report: ${reportFile}`);
  if (outcome.kind === "done") {
    const archived = archiveState(o.statePath, state);
    out(`state archived to ${archived}; the next run starts fresh`);
    out(`${o.direction} to ${o.to} done in ${formatSeconds(report.rto.stepsSeconds)}`);
    return EXIT.ok;
  }
  io.stderr.write(
    `drctl ${o.direction}: step ${outcome.step} stopped the run: ${outcome.message}\n`,
  );
  if (outcome.step !== "preflight") {
    io.stderr.write(
      `progress is saved in ${o.statePath}; re-running the same command resumes at ${outcome.step}\n`,
    );
  }
  return outcome.kind === "breached" ? EXIT.breached : EXIT.failed;
}

/** drctl's entry for `failover` and `failback` (argv[0]): Pulumi Automation API and AWS. */
export async function failoverCommand(argv: string[], io: CommandIo): Promise<number> {
  const [
    { AutomationStackOps },
    { AwsSites },
    { RegionSwitchClient },
    { readStackFile },
    { readStateLocations },
  ] = await Promise.all([
    import("./automationOps"),
    import("./awsSites"),
    import("./regionSwitch/client"),
    import("./topology"),
    import("./stateLocation"),
  ]);
  return runFailover(argv, io, (workDir) => {
    const ops = new AutomationStackOps(workDir, (text) => io.stdout.write(text));
    const sites = (topology: Topology) => new AwsSites(topology, io.env);
    return {
      ops,
      stackFile: (stack) => Promise.resolve(readStackFile(workDir, stack)),
      stateLocations: readStateLocations(workDir, io.env, STACK_NAMES),
      probes: sites,
      controls: sites,
      regionSwitch: (region) => new RegionSwitchClient({ region }),
      clock: systemClock,
    };
  });
}
