import { putBytes, type Store } from "../store";
import { formatSeconds, timelineSvg, type Timeline } from "../timeline";
import { DRILL_STEPS, type DrillReport, type DrillStepName } from "./drill";

/** What each drill step does, as the picture names it. */
const STEP_LABELS: Record<DrillStepName, string> = {
  "find-backup": "find the newest backup",
  verify: "download + verify (sha256, archive)",
  "create-scratch": "create scratch database",
  restore: "restore (download, pg_restore)",
  "row-counts": "check row counts",
  "smoke-sql": "check smoke SQL",
  "drop-scratch": "drop scratch database",
};

/** The key of a report's picture: beside it, `.json` → `.svg`. */
export function timelineKey(reportKey: string): string {
  return `${reportKey.replace(/\.json$/, "")}.svg`;
}

/**
 * A drill as a picture: each step a bar from its start (seconds after the drill's), the steps
 * after a failure as "not run", and the restore time (the restore path's RTO) as a bracket.
 */
export function drillTimeline(r: DrillReport): Timeline {
  const origin = new Date(r.startedAt).getTime();
  const ran = new Map(r.steps.map((s) => [s.name, s]));
  const bars = DRILL_STEPS.filter((n) => ran.has(n) || n !== "drop-scratch").map((name) => {
    const s = ran.get(name);
    return s
      ? {
          label: STEP_LABELS[name],
          start: (new Date(s.startedAt).getTime() - origin) / 1000,
          duration: s.durationSeconds,
          status: s.passed ? ("ok" as const) : ("failed" as const),
        }
      : { label: STEP_LABELS[name], start: 0, duration: 0, status: "not run" as const };
  });
  const restore = ran.get("restore");
  const spans =
    restore && r.restoreDurationSeconds !== null
      ? [
          {
            label: `restore time ${formatSeconds(r.restoreDurationSeconds)}`,
            from: (new Date(restore.startedAt).getTime() - origin) / 1000,
            to: (new Date(restore.startedAt).getTime() - origin) / 1000 + r.restoreDurationSeconds,
          },
        ]
      : [];
  const backup = r.backupId ? `${r.tier}/${r.backupId}` : "no backup";
  return {
    title: `drctl drill ${r.drillId}: ${r.passed ? "PASSED" : "FAILED"}`,
    subtitle:
      `${backup}, started ${r.startedAt}, ${formatSeconds(r.durationSeconds)} in all` +
      (r.failure ? ` · ${r.failure.step}: ${r.failure.reason}` : ""),
    panels: [{ title: "steps", bars, spans }],
  };
}

/** Writes the picture beside the report in the store. */
export async function writeTimeline(store: Store, r: DrillReport): Promise<string> {
  const key = timelineKey(r.reportKey);
  await putBytes(store, key, Buffer.from(timelineSvg(drillTimeline(r))));
  return key;
}
