import { formatSeconds } from "./duration";
import type { Outcome } from "./machine";
import type { Plan } from "./plan";
import type { RunState } from "./stateFile";

/** The failover report: what ran, how long each step took (the measured RTO), and every warning. */
export interface FailoverReport {
  readonly direction: Plan["direction"];
  readonly from: { readonly site: string; readonly stack: string };
  readonly to: { readonly site: string; readonly stack: string };
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
  /** Replica lag measured at preflight: the writes a failover may have lost (the RPO), when known. */
  readonly rpoSeconds?: number;
  readonly preflight?: RunState["preflight"];
  readonly fencing: "done" | "skipped" | "not reached";
  /**
   * The old site's Route 53 PRIMARY record, which drctl deletes itself when fencing was skipped:
   * "deleted", "absent" (already gone), "not needed" (fencing removed it), "not reached".
   * Undefined when the run has no such step (failback, or no `dr-stack:dns`).
   */
  readonly dnsRelease?: "deleted" | "absent" | "not needed" | "not reached";
  readonly warnings: readonly string[];
  readonly steps: RunState["steps"];
}

export function buildReport(plan: Plan, state: RunState, outcome: Outcome): FailoverReport {
  const stepsSeconds = state.steps.reduce((sum, s) => sum + (s.durationSeconds ?? 0), 0);
  const fence = state.steps.find((s) => s.id === `fence-${plan.from.site}`);
  const fencing =
    fence?.status === "done" || fence?.status === "skipped" ? fence.status : "not reached";
  const release = plan.steps.find((s) => s.kind === "releaseDns");
  const dnsRelease = !release
    ? undefined
    : (state.dnsRelease ?? (fencing === "done" ? "not needed" : "not reached"));
  const wallClockSeconds = state.finishedAt
    ? (Date.parse(state.finishedAt) - Date.parse(state.startedAt)) / 1000
    : undefined;
  return {
    direction: plan.direction,
    from: { site: plan.from.site, stack: plan.from.stack },
    to: { site: plan.to.site, stack: plan.to.stack },
    outcome: outcome.kind,
    ...(outcome.kind === "done" ? {} : { failedStep: outcome.step, error: outcome.message }),
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    rto: { stepsSeconds, wallClockSeconds },
    rpoSeconds: plan.direction === "failover" ? state.preflight?.replicaLagSeconds : undefined,
    preflight: state.preflight,
    fencing,
    ...(dnsRelease ? { dnsRelease } : {}),
    warnings: state.warnings,
    steps: state.steps,
  };
}

/** One line per step: offset from the start, status, duration; then the total (the measured RTO). */
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
  if (report.rpoSeconds !== undefined) {
    lines.push(`  replica lag at preflight (RPO bound): ${formatSeconds(report.rpoSeconds)}`);
  }
  for (const w of report.warnings) lines.push(`  WARNING: ${w}`);
  return lines.join("\n") + "\n";
}
