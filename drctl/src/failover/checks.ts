import { formatSeconds } from "./duration";
import type { CallFn, MachineOptions } from "./machine";
import type { Step } from "./plan";
import type { ReplicaStatus } from "./ports";

/** The run stopped because a guard said no (data loss over the limit): exit 2, not a failure. */
export class ObjectiveBreached extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ObjectiveBreached";
  }
}

export const errorText = (err: unknown): string =>
  err instanceof Error ? err.message : String(err);

/** Why a step ended without doing its work (`skipped`), or what it found (`note`). */
export type StepResult = { readonly skipped?: string; readonly note?: string } | undefined;

export interface CheckContext extends MachineOptions {
  readonly call: CallFn;
  readonly warning: (text: string) => void;
}

/** The rebuilt replica's lag is read from the replica itself every this often. */
export const LAG_POLL_SECONDS = 30;
/** Route 53 health checks run every 10 s; the post-checks poll at that pace. */
export const CHECK_POLL_SECONDS = 10;
/** Replay of the last write of a fenced primary takes seconds: look often. */
export const DRAIN_POLL_SECONDS = 1;

/** `16/B374D848` as a number: LSNs compare by value, not as text. */
export function lsnValue(lsn: string): bigint {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(lsn);
  if (!m) throw new Error(`not a PostgreSQL LSN: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/**
 * The RPO bound: the age of the last commit the replica replayed, measured on the replica's own
 * clock. RDS computes ReplicaLag for PostgreSQL the same way, so once the source is gone it only
 * grows (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PostgreSQL.Replication.ReadReplicas.Monitor.html).
 */
export function replayAgeSeconds(s: ReplicaStatus): number | undefined {
  if (s.lastReplayAt === null) return undefined;
  return Math.max(0, (s.now.getTime() - s.lastReplayAt.getTime()) / 1000);
}

/** Lag of a replica whose source is up: nothing to apply means caught up, however old the last commit. */
function liveLagSeconds(s: ReplicaStatus): number | undefined {
  if (s.replayLsn !== null && s.receiveLsn !== null && s.replayLsn === s.receiveLsn) return 0;
  return replayAgeSeconds(s);
}

export async function runCheck(step: Step, c: CheckContext): Promise<StepResult> {
  const [first] = step.calls;
  const { probes, controls } = c;
  switch (step.kind) {
    case "preflight":
      return preflight(step, c);
    case "trafficOff":
      await c.call(first, "aws", (s) => controls.setTrafficEnabled(step.site, false, s));
      return { note: `${first.action} in ${first.region}` };
    case "trafficOn":
      await c.call(first, "aws", (s) => controls.setTrafficEnabled(step.site, true, s));
      return { note: `${first.action} in ${first.region}` };
    case "sqlFence": {
      const fenced = await c.call(step.calls[2], "fence", (s) => controls.sqlFence(step.site, s));
      c.state.fenceLsn = fenced.lsn;
      return {
        note: `read-only for new sessions; ${fenced.terminated} open session(s) ended; WAL at ${fenced.lsn}`,
      };
    }
    case "drain":
      return drain(step, c);
    case "waitLag":
      return waitLag(step, c);
    case "checkWrite":
      return poll(step, c, async () => {
        await c.call(step.calls[2], "db", (s) => probes.writeCheck(step.site, s));
        return `${step.site} accepted a write`;
      });
    case "checkDns":
      return poll(step, c, async () => {
        const answer = await c.call(first, "dns", (s) => probes.dnsAnswer(s));
        if (answer === step.site) return `DNS answers with ${step.site}`;
        throw new Error(`DNS answers with ${answer ?? "neither site"}, expected ${step.site}`);
      });
    case "regionBack":
      await c.call(first, "aws", (s) => probes.bucketAnswers(step.site, s));
      return { note: `${first.region} answers` };
    case "batchReplication": {
      const job = await c.call(first, "aws", (s) => controls.startBatchReplication(step.site, s));
      c.state.batchJob = { ...job };
      return {
        note: `job ${job.jobId} in ${job.region} on ${job.bucket}; follow it with aws s3control describe-job`,
      };
    }
    default:
      throw new Error(`step ${step.id} (${step.kind}) has no check`);
  }
}

/**
 * Failover: report the RPO bound from the target replica and refuse only over --max-data-loss.
 * Failback: the newest backup of the current primary. Neither reads anything in the old region.
 */
async function preflight(step: Step, c: CheckContext): Promise<StepResult> {
  const { plan, probes, maxDataLossSeconds } = c;
  const notes: string[] = [];
  const record: NonNullable<typeof c.state.preflight> = { maxDataLossSeconds };
  c.state.preflight = record;
  if (plan.direction === "failover") {
    const to = plan.to.site;
    try {
      const status = await c.call(step.calls[0], "db", (s) => probes.replicaStatus(to, s));
      const age = replayAgeSeconds(status);
      if (age === undefined) {
        record.rpoUnknown = `${to}'s replica has replayed no transaction since it started`;
      } else {
        record.lastReplayAt = status.lastReplayAt?.toISOString();
        record.rpoBoundSeconds = age;
      }
    } catch (err) {
      record.rpoUnknown = `could not read ${to}'s replica: ${errorText(err)}`;
    }
    if (record.rpoBoundSeconds !== undefined) {
      notes.push(
        `RPO bound ${formatSeconds(record.rpoBoundSeconds)} (last replayed commit ${record.lastReplayAt})`,
      );
    } else {
      notes.push(`RPO bound unknown: ${record.rpoUnknown}`);
    }
    if (maxDataLossSeconds !== undefined) {
      if (record.rpoBoundSeconds === undefined) {
        throw new ObjectiveBreached(
          `RPO bound unknown (${record.rpoUnknown ?? ""}), and --max-data-loss ${formatSeconds(maxDataLossSeconds)} ` +
            `needs a known one. Fix the read of ${to}'s replica and re-run, or drop --max-data-loss to promote anyway.`,
        );
      }
      if (record.rpoBoundSeconds > maxDataLossSeconds) {
        throw new ObjectiveBreached(
          `RPO bound of ${to} is ${formatSeconds(record.rpoBoundSeconds)} (last replayed commit ` +
            `${record.lastReplayAt}), over --max-data-loss ${formatSeconds(maxDataLossSeconds)}: promoting now ` +
            `loses every write ${plan.from.site} committed after that. Wait for the replica and re-run, ` +
            `or raise or drop --max-data-loss to accept the loss.`,
        );
      }
    } else if (record.rpoBoundSeconds === undefined) {
      c.warning(`RPO bound unknown: ${record.rpoUnknown ?? ""}`);
    }
  }
  if (probes.newestBackupAgeSeconds) {
    const site = plan.direction === "failover" ? plan.to.site : plan.from.site;
    const target = step.calls[step.calls.length - 1];
    try {
      const age = await c.call(target, "aws", (s) => probes.newestBackupAgeSeconds!(site, s));
      record.newestBackupAgeSeconds = age;
      if (age === undefined) {
        c.warning(
          `no complete logical backup found for ${site}; restore points are RDS/AWS Backup only`,
        );
      } else {
        notes.push(`newest backup of ${site} ${formatSeconds(age)} old`);
        if (age > c.backupMaxAgeSeconds) {
          c.warning(
            `newest backup of ${site} is ${formatSeconds(age)} old, over ${formatSeconds(c.backupMaxAgeSeconds)} ` +
              `(alarms.backupMaxAgeHours): take one with drctl backup once the new primary is up`,
          );
        }
      }
    } catch (err) {
      c.warning(`could not list ${site}'s backups: ${errorText(err)}`);
    }
  }
  return { note: notes.join("; ") || undefined };
}

/**
 * Once the old primary is read-only, wait for the replica to replay up to its last WAL position:
 * then the promotion loses nothing. Bounded by the `drain` deadline.
 */
async function drain(step: Step, c: CheckContext): Promise<StepResult> {
  const { plan, clock, probes } = c;
  const target = c.state.fenceLsn;
  if (target === undefined) {
    return {
      skipped: `${plan.from.site} was not SQL-fenced, so there is no last write to wait for; the RPO bound stands`,
    };
  }
  const deadline = clock.now() + c.deadlines.drain * 1000;
  for (;;) {
    const s = await c.call(step.calls[0], "db", (sig) => probes.replicaStatus(step.site, sig));
    if (s.replayLsn !== null && lsnValue(s.replayLsn) >= lsnValue(target)) {
      return {
        note: `${step.site} replayed up to ${s.replayLsn} (${plan.from.site} fenced at ${target})`,
      };
    }
    if (clock.now() >= deadline) {
      throw new Error(
        `${step.site} replayed only up to ${s.replayLsn ?? "nothing"} of ${target} within ` +
          `${formatSeconds(c.deadlines.drain)} (--deadline drain)`,
      );
    }
    await clock.sleep(DRAIN_POLL_SECONDS * 1000);
  }
}

/** Failback: the rebuilt replica catches up with the current primary before the switchover. */
async function waitLag(step: Step, c: CheckContext): Promise<StepResult> {
  const { probes, clock, lagTimeoutSeconds } = c;
  const limit = step.lagLimitSeconds ?? c.maxLagSeconds;
  const deadline = clock.now() + lagTimeoutSeconds * 1000;
  for (;;) {
    let lag: number | undefined;
    let why = "";
    try {
      lag = liveLagSeconds(
        await c.call(step.calls[0], "db", (s) => probes.replicaStatus(step.site, s)),
      );
    } catch (err) {
      why = ` (${errorText(err)})`;
    }
    if (lag !== undefined && lag <= limit) return { note: `replica lag ${lag}s (limit ${limit}s)` };
    if (clock.now() >= deadline) {
      const measured = lag === undefined ? `unknown${why}` : `${lag}s`;
      throw new ObjectiveBreached(
        `replica lag of ${step.site} is still ${measured} after ${formatSeconds(lagTimeoutSeconds)}, ` +
          `over the limit of ${limit}s; the replica has not caught up. ` +
          `Re-run the same command to keep waiting (it resumes here), or raise --lag-timeout.`,
      );
    }
    await clock.sleep(LAG_POLL_SECONDS * 1000);
  }
}

/** Retries `check` until it passes or --check-timeout runs out: DNS moves only after health checks and TTL. */
async function poll(
  step: Step,
  c: CheckContext,
  check: () => Promise<string>,
): Promise<StepResult> {
  const { clock, checkTimeoutSeconds } = c;
  const deadline = clock.now() + checkTimeoutSeconds * 1000;
  for (;;) {
    try {
      return { note: await check() };
    } catch (err) {
      if (clock.now() >= deadline) {
        throw new Error(
          `${step.title} did not pass within ${formatSeconds(checkTimeoutSeconds)} (--check-timeout): ` +
            `${errorText(err)}. Fix the cause (see the runbook) and re-run the same command; it resumes here.`,
        );
      }
    }
    await clock.sleep(CHECK_POLL_SECONDS * 1000);
  }
}
