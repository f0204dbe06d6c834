import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { dbMasterSecretName } from "../../../components/naming";
import { EXIT, UsageError } from "../errors";
import { FAILOVER_USAGE } from "../failoverUsage";
import { errorText } from "./checks";
import { DeadlineExceeded, parseDeadlines, withDeadline, type Deadlines } from "./deadlines";
import { formatSeconds, parseDurationSeconds } from "./duration";
import { FailoverMachine } from "./machine";
import { buildPlan, describeCall, describeChange, type Direction, type Plan } from "./plan";
import { systemClock, type Clock, type Controls, type Probes, type StackOps } from "./ports";
import { buildReport, formatTimeline } from "./report";
import {
  archiveState,
  defaultStatePath,
  loadState,
  otherRunsInProgress,
  reportPath,
  type CallRecord,
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
  /** Probes and controls need names and regions, known once the stacks' config has been read. */
  readonly probes: (topology: Topology) => Probes;
  readonly controls: (topology: Topology) => Controls;
  readonly clock: Clock;
}

interface Options {
  readonly direction: Direction;
  readonly to: string;
  readonly plan: boolean;
  readonly skipFence: boolean;
  readonly maxDataLossSeconds?: number;
  readonly maxLagSeconds?: number;
  readonly lagTimeoutSeconds: number;
  readonly checkTimeoutSeconds: number;
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

function parseOptions(argv: readonly string[]): Options | "help" {
  const reconnect = argv[0] === "failover" && argv[1] === "reconnect";
  const direction: string | undefined = reconnect ? "reconnect" : argv[0];
  if (direction !== "failover" && direction !== "failback" && direction !== "reconnect") {
    throw new UsageError(
      `unknown command ${JSON.stringify(direction)}; expected failover, failover reconnect or failback`,
    );
  }
  const name = reconnect ? "failover reconnect" : direction;
  let values;
  try {
    ({ values } = parseArgs({
      args: argv.slice(reconnect ? 2 : 1),
      strict: true,
      allowPositionals: false,
      options: {
        to: { type: "string" },
        plan: { type: "boolean", default: false },
        "skip-fence": { type: "boolean", default: false },
        "max-data-loss": { type: "string" },
        "max-lag": { type: "string" },
        "lag-timeout": { type: "string" },
        "check-timeout": { type: "string" },
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
      `${name}: --to <site> is required: name the site that ${direction === "reconnect" ? "is" : "should become"} ` +
        `primary (a key of dr-stack:sites, e.g. --to usw2)`,
    );
  }
  if (direction !== "failover") {
    for (const flag of ["skip-fence", "max-data-loss"] as const) {
      if (values[flag] === undefined || values[flag] === false) continue;
      throw new UsageError(
        `${name}: --${flag} is for drctl failover only: ${
          direction === "failback"
            ? "a planned switchover fences the old primary and waits for the replica, losing nothing"
            : "reconnect promotes nothing"
        }`,
      );
    }
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
    plan: values.plan,
    skipFence: values["skip-fence"],
    maxDataLossSeconds: duration("max-data-loss", values["max-data-loss"]),
    maxLagSeconds: duration("max-lag", values["max-lag"]),
    lagTimeoutSeconds: duration("lag-timeout", values["lag-timeout"], 3600) as number,
    checkTimeoutSeconds: duration("check-timeout", values["check-timeout"], 300) as number,
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
  if (o.direction === "reconnect") {
    if (target.role !== "primary") {
      throw new UsageError(
        `reconnect follows a failover to ${o.to}, but ${o.to} is ${target.role}; run drctl failover --to ${o.to} first`,
      );
    }
    if (peer.role === undefined) {
      throw new UsageError(
        `cannot read stack ${peer.stack} of ${peer.site} (${peer.unreadable ?? "no config"}); reconnect ` +
          `reconciles that stack, so its state must answer. Re-run once ${peer.region} is back.`,
      );
    }
    return;
  }
  if (target.role === "primary" && peer.role === "primary") {
    throw new UsageError(
      `both stacks say primary: the failover to ${peer.site} has not been reconciled yet. Run ` +
        `drctl failover reconnect --to ${peer.site} first (it fences stack ${target.stack}), then re-run this.`,
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

/** A run starts when it starts reading the stacks: that time counts in the measured RTO too. */
function freshState(plan: Plan, startedAt: number): RunState {
  return {
    version: 2,
    direction: plan.direction,
    to: plan.to.site,
    from: plan.from.site,
    startedAt: new Date(startedAt).toISOString(),
    steps: plan.steps.map((s) => ({ id: s.id, title: s.title, status: "pending", attempts: 0 })),
    warnings: [],
    calls: [],
  };
}

/**
 * Prints every step with the region and service of each call it would make. It reads only the
 * target's side: the target stack's preview and the target replica's replay position; nothing in
 * the old primary's region, nothing of its stack beyond the config already read.
 */
async function printPlan(
  io: CommandIo,
  deps: FailoverDeps,
  o: Options,
  topology: Topology,
  plan: Plan,
  resumed: RunState | undefined,
): Promise<void> {
  const out = (line: string) => io.stdout.write(line + "\n");
  const { from, to } = plan;
  const bounded = <T>(what: string, seconds: number, fn: (s: AbortSignal) => Promise<T>) =>
    withDeadline(deps.clock, what, seconds, fn);
  out(
    `plan: ${plan.direction} to ${to.site} (stack ${to.stack}, ${to.region}) ` +
      `from ${from.site} (stack ${from.stack}, ${from.region})`,
  );
  if (plan.direction === "failover") {
    const probes = deps.probes(topology);
    const rpo = await bounded(`${to.site}'s replica`, o.deadlines.db, (s) =>
      probes.replicaStatus(to.site, s),
    ).then(
      (st) =>
        st.lastReplayAt === null
          ? "unknown (no transaction replayed since the replica started)"
          : `${formatSeconds(Math.max(0, (st.now.getTime() - st.lastReplayAt.getTime()) / 1000))} ` +
            `(last replayed commit ${st.lastReplayAt.toISOString()})`,
      (e: unknown) => `unreadable (${errorText(e)})`,
    );
    out(`  RPO bound now, from ${to.site}'s replica: ${rpo}`);
  }
  try {
    const summary = await bounded(`preview of stack ${to.stack}`, o.deadlines.stack, (s) =>
      deps.ops.preview(to.stack, s),
    );
    const pending =
      Object.entries(summary)
        .filter(([op, n]) => op !== "same" && n > 0)
        .map(([op, n]) => `${op} ${n}`)
        .join(", ") || "none";
    out(
      `  stack ${to.stack} (${to.site}, ${to.role}): pending changes the next up would also apply: ${pending}`,
    );
  } catch (err) {
    out(`  stack ${to.stack} (${to.site}, ${to.role}): preview failed: ${errorText(err)}`);
  }
  plan.steps.forEach((step, i) => {
    const status = resumed?.steps.find((r) => r.id === step.id)?.status;
    const onFailure = step.onFailure === "skip" ? "  (skipped with a warning if it fails)" : "";
    out(
      `  ${i + 1}. ${step.title}${status && status !== "pending" ? `  [${status}]` : ""}${onFailure}`,
    );
    for (const c of step.changes) out(`       ${describeChange(c, step.stack)}`);
    for (const c of step.calls) out(`       -> ${describeCall(c)}`);
    for (const c of step.settle ?? []) out(`       ${describeChange(c, step.stack)}`);
  });
  out(
    `deadlines: ${Object.entries(o.deadlines)
      .map(([k, v]) => `${k} ${formatSeconds(v)}`)
      .join(", ")}`,
  );
  out(`--plan: nothing was changed.`);
}

/** `drctl failover|failback|failover reconnect`, against the given deps. */
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
  const name = o.direction === "reconnect" ? "failover reconnect" : o.direction;
  try {
    return await execute(o, io, makeDeps(o.workDir));
  } catch (e) {
    err(`drctl ${name}: ${errorText(e)}`);
    return e instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
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
  if (!existing) {
    const others = otherRunsInProgress(dirname(o.statePath), o.statePath);
    if (others.length > 0) {
      throw new UsageError(
        `an unfinished run is recorded in ${others.join(", ")}; finish it first (re-run its command), ` +
          `or if it was abandoned, move the file aside.`,
      );
    }
  }
  // The old primary's stack may not answer at all (its state or secrets provider is in the failed
  // region): each read gets the stack deadline, and an unreadable stack is tolerated (topology.ts).
  const startedAt = deps.clock.now();
  const reads: CallRecord[] = [];
  const topology = await readTopology(async (stack) => {
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
        outcome: err instanceof DeadlineExceeded ? "timed out" : "failed",
        seconds: (deps.clock.now() - t) / 1000,
        error: errorText(err),
      });
      throw err;
    }
  });
  const target = targetSite(o, topology);
  if (!existing) checkRoles(o, topology);
  const { name, accountId, partition } = topology.config;
  const plan = buildPlan(
    o.direction,
    topology,
    target,
    (s) => dbMasterSecretName({ name, accountId, partition }, s),
    { skipFence: o.skipFence },
  );

  if (o.plan) {
    await printPlan(io, deps, o, topology, plan, existing);
    return EXIT.ok;
  }

  const state = existing ?? freshState(plan, startedAt);
  state.calls.push(...reads);
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
  if (o.skipFence && !existing) {
    state.warnings.push(
      `--skip-fence: ${plan.from.site}'s traffic control and database were left as they are; ` +
        `if it still takes writes, they are lost to ${plan.to.site}`,
    );
  }
  const machine = new FailoverMachine({
    plan,
    state,
    statePath: o.statePath,
    ops: deps.ops,
    probes: deps.probes(topology),
    controls: deps.controls(topology),
    clock: deps.clock,
    deadlines: o.deadlines,
    maxDataLossSeconds: o.maxDataLossSeconds,
    maxLagSeconds: o.maxLagSeconds ?? topology.config.alarms.replicaLagSeconds,
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
  const [{ AutomationStackOps }, { AwsSites }] = await Promise.all([
    import("./automationOps"),
    import("./awsSites"),
  ]);
  return runFailover(argv, io, (workDir) => {
    const ops = new AutomationStackOps(workDir, (text) => io.stdout.write(text));
    const sites = (topology: Topology) => new AwsSites(topology, ops, io.env);
    return { ops, probes: sites, controls: sites, clock: systemClock };
  });
}
