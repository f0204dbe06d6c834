import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** The components (steps) of a rehearsal, in the order they run. */
export const STEPS = [
  { name: "primary", title: "start primary, load dataset" },
  { name: "standby", title: "streaming standby (pg_basebackup, slot)" },
  { name: "workload", title: "start write workload" },
  { name: "backup", title: "drctl backup + verify --deep" },
  { name: "crash", title: "crash primary (SIGKILL)" },
  { name: "failover", title: "detect, promote, first write (RTO)" },
  { name: "rpo", title: "acknowledged commits on promoted node (RPO)" },
  { name: "restore", title: "restore backup into scratch, check rows" },
] as const;

export type StepName = (typeof STEPS)[number]["name"];

/** One component of dr_report.json. */
export interface ComponentReport {
  readonly name: StepName;
  readonly title: string;
  /** "ok", "failed", or "not run" (an earlier step failed). */
  status: "ok" | "failed" | "not run";
  success: boolean;
  /** When the step started (ISO 8601); null when it did not run. */
  started_at: string | null;
  /** Seconds from the rehearsal's start to this step's; null when it did not run. */
  start_offset_seconds: number | null;
  duration_seconds: number;
  /** Checks this step made that passed / checks made (1 when all passed; 0 when not run). */
  integrity_pass_rate: number;
  /** Always 0: nothing in the rehearsal waits for a person. */
  manual_interventions: number;
  detail?: string;
  error?: string;
}

export interface ObjectiveResult {
  readonly name: string;
  readonly target: string;
  readonly actual: string;
  readonly passed: boolean;
  readonly meaning?: string;
}

/** dr_report.json. */
export interface DrReport {
  readonly generated_at: string;
  readonly mode: "sync" | "async";
  components: ComponentReport[];
  total_seconds: number;
  rto_seconds: number | null;
  /**
   * The failover's instants, in seconds from the rehearsal's start: the crash (SIGKILL), the
   * probe seeing the primary down, pg_promote requested, the first write acknowledged by the
   * promoted node. RTO = first_write - crash. Null until the failover step ran.
   */
  failover_timeline: {
    crash: number;
    detected: number;
    promote_requested: number;
    first_write: number;
  } | null;
  rpo_commits_lost: number | null;
  /**
   * RPO in seconds: the crash minus the newest acknowledged commit the promoted node has, the
   * window the lost commits lie in (what `drctl rpo --failed-at` reports from the heartbeat).
   */
  rpo_seconds: number | null;
  /** The lost commits' acknowledgements, in seconds before the crash (first, last), or null. */
  rpo_lost_window: { from_seconds_before_crash: number; to_seconds_before_crash: number } | null;
  acknowledged_commits: number;
  in_doubt_commits: number;
  wal: {
    standby_receive_lsn?: string;
    standby_replay_lsn?: string;
    primary_end_lsn?: string;
    records_not_received?: number;
    commits_not_received?: number;
    note?: string;
  };
  sizes: {
    requested_bytes: number;
    dataset_bytes: number | null;
    backup_bytes: number | null;
  };
  backup: {
    id?: string;
    store?: string;
    seconds?: number;
    throughput_mb_per_s?: number;
  };
  integrity_pass_rate: number;
  manual_interventions: number;
  objectives: ObjectiveResult[];
  passed: boolean;
  /** Present when the rehearsal itself failed (exit 1). */
  failure?: { step: string; reason: string };
  run_dir?: string;
}

export function newReport(mode: "sync" | "async", requestedBytes: number): DrReport {
  return {
    generated_at: new Date().toISOString(),
    mode,
    components: STEPS.map((s) => ({
      name: s.name,
      title: s.title,
      status: "not run",
      success: false,
      started_at: null,
      start_offset_seconds: null,
      duration_seconds: 0,
      integrity_pass_rate: 0,
      manual_interventions: 0,
    })),
    total_seconds: 0,
    rto_seconds: null,
    failover_timeline: null,
    rpo_commits_lost: null,
    rpo_seconds: null,
    rpo_lost_window: null,
    acknowledged_commits: 0,
    in_doubt_commits: 0,
    wal: {},
    sizes: { requested_bytes: requestedBytes, dataset_bytes: null, backup_bytes: null },
    backup: {},
    integrity_pass_rate: 0,
    manual_interventions: 0,
    objectives: [],
    passed: false,
  };
}

export function writeReport(path: string, report: DrReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

/** `n` rounded half-up to `digits` decimals, as the report's figures are. */
export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
