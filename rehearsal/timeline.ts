import { writeFileSync } from "node:fs";
import {
  formatSeconds,
  timelineSvg,
  type Timeline,
  type TimelinePanel,
} from "../drctl/src/timeline";
import type { DrReport } from "./report";

/** The picture's path: beside the report, `dr_report.json` → `dr_report.svg`. */
export function timelinePath(reportPath: string): string {
  return `${reportPath.replace(/\.json$/, "")}.svg`;
}

/**
 * The rehearsal as a picture: every step on one axis, then the failover drawn to its own scale
 * (it lasts well under a second of a run of tens), crash → detect → promote → first write, with
 * the RTO as a bracket and the RPO at the crash.
 */
export function rehearsalTimeline(r: DrReport): Timeline {
  const steps: TimelinePanel = {
    title: "steps",
    bars: r.components.map((c) => ({
      label: c.title,
      start: c.start_offset_seconds ?? 0,
      duration: c.duration_seconds,
      status: c.start_offset_seconds === null ? "not run" : c.status,
    })),
  };
  const panels: TimelinePanel[] = [steps];
  const f = r.failover_timeline;
  if (f) {
    // Seconds after the crash: the zoomed axis reads as "how long after the crash".
    const t = (at: number) => Math.round((at - f.crash) * 1000) / 1000;
    const rto = r.rto_seconds ?? t(f.first_write);
    const margin = t(f.first_write) * 0.08;
    const rpo =
      r.rpo_commits_lost === null
        ? "RPO not measured"
        : `RPO ${r.rpo_commits_lost} of ${r.acknowledged_commits} acknowledged commits lost`;
    panels.push({
      title: `failover (seconds after the crash): ${formatSeconds(rto)} from crash to first write`,
      range: [-margin, t(f.first_write) + margin],
      bars: [
        { label: "crash → detected down", start: 0, duration: t(f.detected), status: "ok" },
        {
          label: "detected → promote requested",
          start: t(f.detected),
          duration: t(f.promote_requested) - t(f.detected),
          status: "ok",
        },
        {
          label: "promote → first write",
          start: t(f.promote_requested),
          duration: t(f.first_write) - t(f.promote_requested),
          status: "ok",
        },
      ],
      spans: [{ label: `RTO ${formatSeconds(rto)}`, from: 0, to: t(f.first_write) }],
      marks: [
        { label: `crash · ${rpo}`, at: 0 },
        { label: "first write", at: t(f.first_write) },
      ],
    });
  }
  return {
    title: `dr-stack rehearsal: ${r.passed ? "PASSED" : "FAILED"}`,
    subtitle:
      `${r.mode} replication, ${r.generated_at}, ${formatSeconds(r.total_seconds)} in all` +
      (r.failure ? ` · failed at ${r.failure.step}: ${r.failure.reason}` : ""),
    panels,
  };
}

export function writeTimeline(reportPath: string, r: DrReport): string {
  const path = timelinePath(reportPath);
  writeFileSync(path, timelineSvg(rehearsalTimeline(r)));
  return path;
}
