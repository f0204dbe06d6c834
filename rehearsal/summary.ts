import objectivesFile from "./objectives.json";
import type { RehearsalOptions } from "./options";
import type { DrReport, ObjectiveResult } from "./report";

export interface Objectives {
  readonly total_seconds_max: number;
  readonly rto_seconds_max: number;
  readonly rpo_commits_lost_max_sync: number;
  readonly rpo_commits_lost_max_async: number;
  readonly rpo_async_meaning: string;
}

export const OBJECTIVES: Objectives = objectivesFile;

/** Judges a finished (or failed) run against the objectives; sets report.passed. */
export function judge(
  report: DrReport,
  options: RehearsalOptions,
  o: Objectives = OBJECTIVES,
): void {
  const results: ObjectiveResult[] = [];
  results.push({
    name: "full rehearsal time",
    target: `≤ ${o.total_seconds_max} s`,
    actual: `${report.total_seconds.toFixed(1)} s`,
    passed: report.total_seconds <= o.total_seconds_max,
  });
  results.push({
    name: "RTO (crash → first acknowledged write on the promoted node)",
    target: `≤ ${o.rto_seconds_max} s`,
    actual: report.rto_seconds === null ? "not measured" : `${report.rto_seconds.toFixed(3)} s`,
    passed: report.rto_seconds !== null && report.rto_seconds <= o.rto_seconds_max,
  });
  const rpoMax = options.sync ? o.rpo_commits_lost_max_sync : o.rpo_commits_lost_max_async;
  results.push({
    name: `RPO (acknowledged commits lost, ${options.sync ? "sync" : "async"})`,
    target: `≤ ${rpoMax}`,
    actual: report.rpo_commits_lost === null ? "not measured" : String(report.rpo_commits_lost),
    passed: report.rpo_commits_lost !== null && report.rpo_commits_lost <= rpoMax,
    meaning: options.sync
      ? "synchronous replication: COMMIT returns only after the standby has flushed the WAL, so no acknowledged commit may be lost"
      : o.rpo_async_meaning,
  });
  const restore = report.components.find((c) => c.name === "restore");
  results.push({
    name: "restored row counts match the manifest",
    target: "1.0",
    actual: restore ? String(restore.integrity_pass_rate) : "not run",
    passed: restore?.success === true && restore.integrity_pass_rate === 1,
  });
  report.objectives = results;
  // The RPO step's rate (acknowledged commits present) is judged by the RPO objective: in async
  // mode a small loss is expected, not an integrity failure. Every other step must be perfect.
  report.integrity_pass_rate = Math.min(
    ...report.components.filter((c) => c.name !== "rpo").map((c) => c.integrity_pass_rate),
  );
  report.manual_interventions = report.components.reduce((n, c) => n + c.manual_interventions, 0);
  report.passed =
    report.failure === undefined &&
    report.components.every((c) => c.success) &&
    results.every((r) => r.passed);
}

/** The human summary: steps with durations, then the numbers, then each objective. */
export function formatSummary(report: DrReport): string {
  const lines: string[] = [];
  const width = Math.max(...report.components.map((c) => c.title.length));
  lines.push("");
  lines.push(
    `dr-stack rehearsal (${report.mode} replication) — ${report.passed ? "PASSED" : "FAILED"}`,
  );
  lines.push("");
  lines.push(`  #  ${"step".padEnd(width)}  ${"time".padStart(8)}  result`);
  report.components.forEach((c, i) => {
    const t = c.status === "not run" ? "-" : `${c.duration_seconds.toFixed(2)} s`;
    const r =
      c.status === "ok" ? "ok" : c.status === "failed" ? `FAILED: ${c.error ?? ""}` : "not run";
    lines.push(`  ${i + 1}  ${c.title.padEnd(width)}  ${t.padStart(8)}  ${r}`);
  });
  lines.push(
    `     ${"total".padEnd(width)}  ${`${report.total_seconds.toFixed(1)} s`.padStart(8)}`,
  );
  lines.push("");
  const mb = (b: number | null): string => (b === null ? "-" : `${(b / 1024 ** 2).toFixed(1)} MB`);
  lines.push(
    `  RTO                 ${report.rto_seconds === null ? "-" : `${report.rto_seconds.toFixed(3)} s`}`,
  );
  lines.push(
    `  RPO                 ${report.rpo_commits_lost ?? "-"} of ${report.acknowledged_commits} acknowledged commits lost` +
      ` (${report.in_doubt_commits} in doubt: the crash cut them off before COMMIT returned)`,
  );
  lines.push(
    `  RPO (seconds)       ${report.rpo_seconds ?? "-"} s` +
      (report.rpo_lost_window
        ? `: the lost commits were acknowledged ${report.rpo_lost_window.from_seconds_before_crash} s to ` +
          `${report.rpo_lost_window.to_seconds_before_crash} s before the crash`
        : ""),
  );
  if (report.wal.standby_receive_lsn) {
    const gap =
      report.wal.records_not_received === undefined
        ? (report.wal.note ?? "")
        : `primary's WAL ended at ${report.wal.primary_end_lsn}: ${report.wal.records_not_received} records (${report.wal.commits_not_received} commits) never reached the standby`;
    lines.push(`  WAL                 standby received ${report.wal.standby_receive_lsn}; ${gap}`);
  }
  lines.push(`  dataset             ${mb(report.sizes.dataset_bytes)}`);
  lines.push(
    `  backup              ${mb(report.sizes.backup_bytes)} stored` +
      (report.backup.seconds === undefined
        ? ""
        : ` in ${report.backup.seconds.toFixed(1)} s (${report.backup.throughput_mb_per_s} MB/s of database)`),
  );
  lines.push(
    `  integrity           ${report.integrity_pass_rate}   manual interventions ${report.manual_interventions}`,
  );
  lines.push("");
  lines.push("  objectives");
  for (const o of report.objectives) {
    lines.push(`    ${o.passed ? "PASS" : "FAIL"}  ${o.name}: ${o.actual} (target ${o.target})`);
    if (o.meaning && !o.passed) lines.push(`          ${o.meaning}`);
  }
  if (report.failure) {
    lines.push("");
    lines.push(`  the rehearsal failed at step "${report.failure.step}": ${report.failure.reason}`);
  }
  if (report.run_dir) lines.push(`  run directory: ${report.run_dir}`);
  return lines.join("\n");
}
