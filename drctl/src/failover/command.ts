import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EXIT, UsageError } from "../errors";
import { FAILOVER_USAGE } from "./usage";
import { AutomationStackOps } from "./automationOps";
import { AwsProbes } from "./awsProbes";
import { formatSeconds, parseDurationSeconds } from "./duration";
import { FailoverMachine } from "./machine";
import { buildPlan, describeChange, type Direction, type Plan } from "./plan";
import { systemClock, type Clock, type DnsOps, type Probes, type StackOps } from "./ports";
import { buildReport, formatTimeline } from "./report";
import { Route53DnsOps } from "./route53Dns";
import { SdkRoute53Api } from "./route53Sdk";
import {
  archiveState,
  defaultStatePath,
  loadState,
  otherRunsInProgress,
  reportPath,
  type RunState,
} from "./stateFile";
import { findSite, peerOf, readTopology, type SiteState, type Topology } from "./topology";

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** What the command runs against; tests pass fakes, failoverCommand the Automation API and AWS. */
export interface FailoverDeps {
  readonly ops: StackOps;
  /** Probes need names and regions, known once the stacks' config has been read. */
  readonly probes: (topology: Topology) => Probes;
  /** Route 53, used only to release the old site's record when fencing was skipped. */
  readonly dns: (topology: Topology) => DnsOps;
  readonly clock: Clock;
}

interface Options {
  readonly direction: Direction;
  readonly to: string;
  readonly plan: boolean;
  readonly force: boolean;
  readonly maxLagSeconds?: number;
  readonly lagTimeoutSeconds: number;
  readonly checkTimeoutSeconds: number;
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

function parseOptions(argv: readonly string[]): Options | "help" {
  const direction = argv[0];
  if (direction !== "failover" && direction !== "failback") {
    throw new UsageError(
      `unknown command ${JSON.stringify(direction)}; expected failover or failback`,
    );
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv.slice(1),
      strict: true,
      allowPositionals: false,
      options: {
        to: { type: "string" },
        plan: { type: "boolean", default: false },
        force: { type: "boolean", default: false },
        "max-lag": { type: "string" },
        "lag-timeout": { type: "string" },
        "check-timeout": { type: "string" },
        "work-dir": { type: "string" },
        "state-file": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${direction}: ${(err as Error).message}`);
  }
  if (values.help) return "help";
  if (!values.to) {
    throw new UsageError(
      `${direction}: --to <site> is required: name the site that should become primary ` +
        `(a key of dr-stack:sites, e.g. --to usw2)`,
    );
  }
  if (direction === "failback" && values.force) {
    throw new UsageError(
      `failback: --force is not accepted: a planned switchover waits for the replica to catch up ` +
        `instead of losing writes. If the primary is lost, use drctl failover --to <site> --force.`,
    );
  }
  const workDir = resolve(values["work-dir"] ?? process.cwd());
  return {
    direction,
    to: values.to,
    plan: values.plan,
    force: values.force,
    maxLagSeconds: duration("max-lag", values["max-lag"]),
    lagTimeoutSeconds: duration("lag-timeout", values["lag-timeout"], 3600) as number,
    checkTimeoutSeconds: duration("check-timeout", values["check-timeout"], 300) as number,
    workDir,
    statePath: resolve(values["state-file"] ?? defaultStatePath(workDir, values.to)),
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

/** A fresh run must start from the roles its direction expects; a resumed one is mid-transition. */
function checkRoles(o: Options, topology: Topology): void {
  const target = targetSite(o, topology);
  const peer = peerOf(topology, o.to);
  if (target.role === undefined) {
    throw new UsageError(
      `cannot read stack ${target.stack} of ${target.site} (${target.unreadable ?? "no config"}); ` +
        `the site that becomes primary must be reachable. Fix access (pulumi whoami, AWS credentials) and re-run.`,
    );
  }
  if (target.role === "primary") {
    throw new UsageError(
      `${o.to} is already the primary (stack ${target.stack}); to move the primary to ${peer.site}, ` +
        `run drctl ${o.direction} --to ${peer.site}`,
    );
  }
  if (o.direction === "failover" && target.role !== "standby") {
    throw new UsageError(
      `${o.to} is ${target.role}, not standby: a failover promotes a standby. ` +
        `To bring ${o.to} back as primary, run drctl failback --to ${o.to}.`,
    );
  }
  if (o.direction === "failback" && peer.role !== "primary") {
    throw new UsageError(
      `failback to ${o.to} needs ${peer.site} to be primary, but it is ${peer.role ?? "unreadable"}; ` +
        `run drctl failover --to ${peer.site} first, or check both stacks' dr-stack:role.`,
    );
  }
}

function freshState(plan: Plan, clock: Clock): RunState {
  return {
    version: 1,
    direction: plan.direction,
    to: plan.to.site,
    from: plan.from.site,
    startedAt: new Date(clock.now()).toISOString(),
    // A conditional step is recorded only if it runs (FailoverMachine.record).
    steps: plan.steps
      .filter((s) => s.onlyIfSkipped === undefined)
      .map((s) => ({ id: s.id, title: s.title, status: "pending", attempts: 0 })),
    warnings: [],
  };
}

async function printPlan(
  io: CommandIo,
  deps: FailoverDeps,
  topology: Topology,
  plan: Plan,
  maxLagSeconds: number,
  resumed: RunState | undefined,
): Promise<void> {
  const out = (line: string) => io.stdout.write(line + "\n");
  const { from, to } = plan;
  out(
    `plan: ${plan.direction} to ${to.site} (stack ${to.stack}, ${to.region}) ` +
      `from ${from.site} (stack ${from.stack}, ${from.region})`,
  );
  const probes = deps.probes(topology);
  if (plan.direction === "failover") {
    const lag = await probes
      .replicaLagSeconds(to.site)
      .catch((e: Error) => `unreadable (${e.message})`);
    out(
      `  replica lag of ${to.site} now: ${lag === undefined ? "no datapoint" : typeof lag === "number" ? `${lag}s` : lag} (limit ${maxLagSeconds}s)`,
    );
  }
  for (const s of topology.sites) {
    if (s.role === undefined) {
      out(`  stack ${s.stack}: unreadable (${s.unreadable ?? ""})`);
      continue;
    }
    try {
      const changes = Object.entries(await deps.ops.preview(s.stack)).filter(
        ([op, n]) => op !== "same" && n > 0,
      );
      const pending = changes.map(([op, n]) => `${op} ${n}`).join(", ") || "none";
      out(
        `  stack ${s.stack} (${s.site}, ${s.role}): pending changes the next up would also apply: ${pending}`,
      );
    } catch (err) {
      out(`  stack ${s.stack} (${s.site}, ${s.role}): preview failed: ${(err as Error).message}`);
    }
  }
  plan.steps.forEach((step, i) => {
    const status = resumed?.steps.find((r) => r.id === step.id)?.status;
    out(`  ${i + 1}. ${step.title}${status && status !== "pending" ? `  [${status}]` : ""}`);
    for (const c of step.changes) out(`       ${describeChange(c, step.stack)}`);
    if (step.up) out(`       pulumi up --stack ${step.stack}`);
    for (const c of step.settle ?? []) out(`       ${describeChange(c, step.stack)}`);
    if (step.kind === "fence") {
      out(
        plan.direction === "failover"
          ? `       (skipped with a loud warning if ${step.site}'s region or stack does not answer)`
          : `       (never skipped: the run stops if ${step.site} cannot be fenced)`,
      );
    }
    const r = step.dnsRecord;
    if (step.kind === "releaseDns" && r) {
      out(
        `       Route 53 zone ${r.zoneId}: DELETE ${r.recordName} ${r.recordType} ` +
          `set identifier ${r.setIdentifier}, if it is PRIMARY`,
      );
      out(
        `       (only if fencing ${step.site} is skipped: its record would block ${to.site}'s becoming PRIMARY)`,
      );
    }
  });
  out(`--plan: nothing was changed.`);
}

/** `drctl failover|failback`, against the given StackOps and probes. */
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
  try {
    return await execute(o, io, makeDeps(o.workDir));
  } catch (e) {
    if (e instanceof UsageError) {
      err(`drctl ${o.direction}: ${e.message}`);
      return EXIT.usage;
    }
    err(`drctl ${o.direction}: ${(e as Error).message}`);
    return EXIT.failed;
  }
}

async function execute(o: Options, io: CommandIo, deps: FailoverDeps): Promise<number> {
  const out = (line: string) => io.stdout.write(line + "\n");
  const existing = loadState(o.statePath);
  if (existing && (existing.direction !== o.direction || existing.to !== o.to)) {
    throw new UsageError(
      `${o.statePath} holds an unfinished ${existing.direction} to ${existing.to} started ${existing.startedAt}, ` +
        `not a ${o.direction} to ${o.to}. Finish it with drctl ${existing.direction} --to ${existing.to}, ` +
        `or if it was abandoned, move the file aside to start over.`,
    );
  }
  if (!existing) {
    const others = otherRunsInProgress(dirname(o.statePath), o.statePath);
    if (others.length > 0) {
      throw new UsageError(
        `an unfinished run is recorded in ${others.join(", ")}; finish it first (re-run its command), ` +
          `or if it was abandoned, move the file aside.`,
      );
    }
  }
  const topology = await readTopology((stack) => deps.ops.getAllConfig(stack));
  const target = targetSite(o, topology);
  if (!existing) checkRoles(o, topology);
  const plan = buildPlan(o.direction, topology, target);
  const maxLagSeconds = o.maxLagSeconds ?? topology.config.alarms.replicaLagSeconds;

  if (o.plan) {
    await printPlan(io, deps, topology, plan, maxLagSeconds, existing);
    return EXIT.ok;
  }

  const state = existing ?? freshState(plan, deps.clock);
  if (existing) {
    const next = state.steps.find((s) => s.status !== "done" && s.status !== "skipped");
    out(
      `resuming the ${o.direction} to ${o.to} started ${state.startedAt} at: ${next?.title ?? "the end"}`,
    );
  } else {
    out(
      `${o.direction} to ${o.to} (stack ${plan.to.stack}) from ${plan.from.site} (stack ${plan.from.stack})`,
    );
  }
  const machine = new FailoverMachine({
    plan,
    state,
    statePath: o.statePath,
    ops: deps.ops,
    probes: deps.probes(topology),
    dns: deps.dns(topology),
    clock: deps.clock,
    maxLagSeconds,
    force: o.force,
    backupMaxAgeSeconds: topology.config.alarms.backupMaxAgeHours * 3600,
    lagTimeoutSeconds: o.lagTimeoutSeconds,
    checkTimeoutSeconds: o.checkTimeoutSeconds,
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
  return runFailover(argv, io, (workDir) => ({
    ops: new AutomationStackOps(workDir, (text) => io.stdout.write(text)),
    probes: (topology) => new AwsProbes(topology, io.env),
    dns: (topology) => new Route53DnsOps(new SdkRoute53Api(topology.config.partition)),
    clock: systemClock,
  }));
}
