import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Direction } from "./plan";

/**
 * Progress of one failover or failback, persisted after every step so that re-running the same
 * command resumes at the step that failed. A finished run is moved to `history/`, so the next run
 * starts fresh.
 */

export type StepStatus = "pending" | "running" | "done" | "skipped" | "failed";

export interface StepRecord {
  readonly id: string;
  readonly title: string;
  status: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  durationSeconds?: number;
  /** What happened besides success: a skipped fence, the measured lag. */
  note?: string;
  error?: string;
}

export interface PreflightRecord {
  /** `pg_last_xact_replay_timestamp()` on the target replica: writes after it may be lost. */
  lastReplayAt?: string;
  /** Replica clock minus lastReplayAt: the RPO bound of this failover, in seconds. */
  rpoBoundSeconds?: number;
  /** Why the bound could not be read, when it could not. */
  rpoUnknown?: string;
  /** `--max-data-loss`, when given. */
  maxDataLossSeconds?: number;
  newestBackupAgeSeconds?: number;
}

/** One remote call: where it went, how it ended, how long it took (every call has a deadline). */
export interface CallRecord {
  readonly step: string;
  readonly target: string;
  readonly outcome: "ok" | "failed" | "timed out";
  readonly seconds: number;
  readonly deadlineSeconds: number;
  readonly error?: string;
}

export interface RunState {
  readonly version: 3;
  readonly direction: Direction;
  readonly to: string;
  readonly from: string;
  readonly startedAt: string;
  steps: StepRecord[];
  warnings: string[];
  preflight?: PreflightRecord;
  /** The Region switch execution this run started or follows; a re-run follows it, never starts another. */
  execution?: {
    planArn: string;
    executionId: string;
    region: string;
    mode: "graceful" | "ungraceful";
    /** Its executionState when drctl last read it. */
    state?: string;
  };
  /** The S3 Batch Replication job a reconnect started. */
  batchJob?: { jobId: string; region: string; bucket: string };
  calls: CallRecord[];
  finishedAt?: string;
}

export class StateFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateFileError";
  }
}

export const stateDir = (workDir: string): string => join(workDir, ".drctl");

/**
 * One state file per target site: a failover and a failback to the same site share it, so they
 * cannot run at once; a reconnect has its own, as it runs after the failover has finished.
 */
export const defaultStatePath = (workDir: string, direction: Direction, to: string): string =>
  join(stateDir(workDir), `${direction === "failback" ? "failover" : direction}-${to}.json`);

export function loadState(path: string): RunState | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let parsed: Partial<RunState>;
  try {
    parsed = JSON.parse(text) as Partial<RunState>;
  } catch {
    throw new StateFileError(
      `state file ${path} is not valid JSON; expected the progress of an earlier run. ` +
        `Inspect it, then move it aside to start over.`,
    );
  }
  if (parsed.version !== 3 || !Array.isArray(parsed.steps) || !parsed.direction || !parsed.to) {
    throw new StateFileError(
      `state file ${path} is not a drctl failover state of this version (3, with direction, to and steps); ` +
        `move it aside to start over.`,
    );
  }
  return parsed as RunState;
}

/** Written to a temporary file and renamed, so a crash mid-write never leaves half a state. */
export function saveState(path: string, state: RunState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  renameSync(tmp, path);
}

const compact = (iso: string): string => iso.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

/** Moves a finished run's state into `history/` beside it; returns the new path. */
export function archiveState(path: string, state: RunState): string {
  const target = join(
    dirname(path),
    "history",
    `${state.direction}-${state.to}-${compact(state.startedAt)}.json`,
  );
  mkdirSync(dirname(target), { recursive: true });
  renameSync(path, target);
  return target;
}

/** Unfinished runs in `dir` other than `exceptPath`: two runs at once would fight over the stacks. */
export function otherRunsInProgress(dir: string, exceptPath: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter(
      (n) =>
        /^(failover|reconcile|reconnect|rebuild)-.+\.json$/.test(n) && n !== basename(exceptPath),
    )
    .map((n) => join(dir, n));
}

/** Where a run's report goes: one file per run, rewritten as the run progresses. */
export function reportPath(path: string, state: RunState): string {
  return join(
    dirname(path),
    "reports",
    `${state.direction}-${state.to}-${compact(state.startedAt)}.json`,
  );
}
