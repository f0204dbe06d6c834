import { formatSeconds } from "./duration";
import type { Outcome } from "./machine";
import type { Plan } from "./plan";
import type { RunState } from "./stateFile";

/** The failover report: what ran, how long each step took (the measured RTO), every call, every warning. */
export interface FailoverReport {
  readonly direction: Plan["direction"];
  readonly from: { readonly site: string; readonly stack: string; readonly region: string };
  readonly to: { readonly site: string; readonly stack: string; readonly region: string };
  readonly outcome: "done" | "failed" | "breached";
  readonly failedStep?: string;
  readonly error?: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly rto: {
    /** Sum of step durations over every attempt: time the stacks spent changing and being checked. */
    readonly stepsSeconds: number;
    /** First step started to last step finished, including any pause between a failure and its re-run. */
    readonly wallClockSeconds?: number;
  };
  /** Age of the replica's last replayed commit at preflight: the writes a failover may have lost. */
  readonly rpoBoundSeconds?: number;
  readonly preflight?: RunState["preflight"];
  /** The Region switch execution the run started or followed; its own report is in the bucket. */
  readonly execution?: RunState["execution"];
  /** What is left for when the old region is back (never a prerequisite of the promotion). */
  readonly nextSteps: readonly string[];
  readonly batchReplicationJob?: RunState["batchJob"];
  readonly warnings: readonly string[];
  readonly steps: RunState["steps"];
  /** Every remote call: target, outcome, seconds against its deadline. */
  readonly calls: RunState["calls"];
}

export function buildReport(plan: Plan, state: RunState, outcome: Outcome): FailoverReport {
  const stepsSeconds = state.steps.reduce((sum, s) => sum + (s.durationSeconds ?? 0), 0);
  const wallClockSeconds = state.finishedAt
    ? (Date.parse(state.finishedAt) - Date.parse(state.startedAt)) / 1000
    : undefined;
  const { from, to } = plan;
  const next: Partial<Record<Plan["direction"], string>> = {
    failover:
      `drctl failover reconcile --to ${to.site} (stack ${to.stack} to what the plan did, ` +
      `stack ${from.stack} declared fenced); docs/runbooks/region-failover.md`,
    reconcile:
      `when ${from.region} answers again: drctl failover reconnect --to ${to.site} (updates stack ` +
      `${from.stack} to fenced, restores the links into ${from.region}, starts S3 Batch Replication)`,
  };
  const nextSteps =
    outcome.kind === "done" && next[plan.direction] ? [next[plan.direction] as string] : [];
  return {
    direction: plan.direction,
    from: { site: from.site, stack: from.stack, region: from.region },
    to: { site: to.site, stack: to.stack, region: to.region },
    outcome: outcome.kind,
    ...(outcome.kind === "done" ? {} : { failedStep: outcome.step, error: outcome.message }),
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    rto: { stepsSeconds, wallClockSeconds },
    rpoBoundSeconds: state.preflight?.rpoBoundSeconds,
    preflight: state.preflight,
    ...(state.execution ? { execution: state.execution } : {}),
    nextSteps,
    ...(state.batchJob ? { batchReplicationJob: state.batchJob } : {}),
    warnings: state.warnings,
    steps: state.steps,
    calls: state.calls,
  };
}

/** One line per step: offset from the start, status, duration; then the totals and the calls that failed. */
export function formatTimeline(report: FailoverReport): string {
  const start = Date.parse(report.startedAt);
  const width = Math.max(...report.steps.map((s) => s.title.length));
  const lines = [`timeline: ${report.direction} ${report.from.site} -> ${report.to.site}`];
  for (const s of report.steps) {
    const offset = s.startedAt ? `+${formatSeconds((Date.parse(s.startedAt) - start) / 1000)}` : "";
    const duration = s.durationSeconds === undefined ? "" : formatSeconds(s.durationSeconds);
    const tries = s.attempts > 1 ? ` (${s.attempts} attempts)` : "";
    lines.push(
      `  ${offset.padStart(8)}  ${s.title.padEnd(width)}  ${s.status.padEnd(7)}  ${duration.padStart(6)}${tries}`,
    );
  }
  lines.push(`  total time in steps (measured RTO): ${formatSeconds(report.rto.stepsSeconds)}`);
  if (report.rto.wallClockSeconds !== undefined) {
    lines.push(`  wall clock, stack reads included: ${formatSeconds(report.rto.wallClockSeconds)}`);
  }
  if (report.execution) {
    const e = report.execution;
    lines.push(
      `  Region switch execution ${e.executionId} in ${e.region} (${e.mode}): ${e.state ?? "not read"}`,
    );
  }
  if (report.direction === "failover") {
    const p = report.preflight;
    lines.push(
      report.rpoBoundSeconds !== undefined
        ? `  RPO bound: ${formatSeconds(report.rpoBoundSeconds)} (last replayed commit ${p?.lastReplayAt ?? "?"})`
        : `  RPO bound: unknown (${p?.rpoUnknown ?? "preflight not reached"})`,
    );
  }
  for (const c of report.calls.filter((x) => x.outcome !== "ok")) {
    lines.push(
      `  call ${c.outcome}: ${c.target} after ${formatSeconds(c.seconds)} (deadline ${formatSeconds(c.deadlineSeconds)})`,
    );
  }
  for (const w of report.warnings) lines.push(`  WARNING: ${w}`);
  for (const n of report.nextSteps) lines.push(`  NEXT: ${n}`);
  return lines.join("\n") + "\n";
}
