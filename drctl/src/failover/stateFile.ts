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
  replicaLagSeconds?: number;
  maxLagSeconds: number;
  forced: boolean;
  newestBackupAgeSeconds?: number;
}

export interface RunState {
  readonly version: 1;
  readonly direction: Direction;
  readonly to: string;
  readonly from: string;
  readonly startedAt: string;
  steps: StepRecord[];
  warnings: string[];
  preflight?: PreflightRecord;
  /** What the release of the old site's DNS record found, when fencing was skipped and it ran. */
  dnsRelease?: "deleted" | "absent";
  finishedAt?: string;
}

export class StateFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateFileError";
  }
}

export const stateDir = (workDir: string): string => join(workDir, ".drctl");

/** One state file per target site: a failover and a failback to the same site share it. */
export const defaultStatePath = (workDir: string, to: string): string =>
  join(stateDir(workDir), `failover-${to}.json`);

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
  if (parsed.version !== 1 || !Array.isArray(parsed.steps) || !parsed.direction || !parsed.to) {
    throw new StateFileError(
      `state file ${path} is not a drctl failover state (version 1 with direction, to and steps); ` +
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
    .filter((n) => /^failover-.+\.json$/.test(n) && n !== basename(exceptPath))
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
