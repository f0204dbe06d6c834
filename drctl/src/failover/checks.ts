import { dbInstanceIdentifier } from "../../../components/naming";
import { formatSeconds } from "./duration";
import type { CallFn, MachineOptions } from "./machine";
import { masterSecretProblems } from "./masterSecrets";
import type { Step } from "./plan";
import type { ReplicaStatus } from "./ports";
import type { ExecutionMode } from "./regionSwitch/client";
import {
  executionEnd,
  findPlan,
  followExecution,
  startActivation,
  type Bounded,
} from "./regionSwitch/execution";
import { NotAReplica } from "./sql";

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
  /** Saves the run's state now (an execution id must survive a crash mid-step). */
  readonly persist: () => void;
}

/** The rebuilt replica's lag is read from the replica itself every this often. */
export const LAG_POLL_SECONDS = 30;
/** Route 53 health checks run every 10 s; the post-checks poll at that pace. */
export const CHECK_POLL_SECONDS = 10;
/** GetPlanExecution is read this often while following an execution. */
export const FOLLOW_POLL_SECONDS = 15;

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
    case "regionSwitch":
      return regionSwitch(step, c);
    case "waitLag":
      return waitLag(step, c);
    case "checkWrite":
      return poll(step, c, async () => {
        await c.call(step.calls[step.calls.length - 1], "db", (s) =>
          probes.writeCheck(step.site, s),
        );
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
 * Starts the plan's activation of the step's region and follows it, or follows the execution
 * already recorded in the state file or already in progress in AWS: a re-run, or a second
 * operator, never starts the promotion twice.
 */
async function regionSwitch(step: Step, c: CheckContext): Promise<StepResult> {
  const region = step.calls[0].region;
  const client = c.regionSwitch(region);
  const bounded: Bounded = (what, fn) =>
    c.call({ region, service: "ARC Region switch", action: what.replace(/^.*: /, "") }, "aws", fn);
  const mode: ExecutionMode = c.plan.direction === "failback" ? "graceful" : c.mode;
  let found = c.state.execution;
  let how = "followed the execution this run started";
  if (!found) {
    const plan = await findPlan(client, region, c.planQuery, bounded);
    if (plan.activePlanExecution) {
      found = { planArn: plan.arn, executionId: plan.activePlanExecution, region, mode };
      how = `followed execution ${plan.activePlanExecution}, already in progress (not started again)`;
    } else {
      const comment = `drctl ${c.plan.direction} --to ${c.plan.to.site}`;
      const executionId = await startActivation(client, plan, region, mode, comment, bounded);
      found = { planArn: plan.arn, executionId, region, mode };
      how = `started execution ${executionId} (${mode})`;
    }
    c.state.execution = found;
    c.persist();
  }
  c.log(`    plan ${found.planArn}, execution ${found.executionId} in ${region}`);
  const end = await followExecution(client, region, found.planArn, found.executionId, {
    clock: c.clock,
    pollSeconds: FOLLOW_POLL_SECONDS,
    timeoutSeconds: c.followTimeoutSeconds,
    call: bounded,
    log: c.log,
  });
  c.state.execution = { ...found, state: end.executionState };
  const steps = (end.stepStates ?? []).map((s) => `${s.name}=${s.status}`).join(", ");
  const outcome = executionEnd(end.executionState);
  if (outcome === "succeeded") {
    if (end.executionState === "completedWithExceptions") {
      c.warning(`the plan's execution ${found.executionId} completed with exceptions: ${steps}`);
    }
    return { note: `${how}; ${end.executionState}: ${steps}` };
  }
  const next =
    outcome === "paused"
      ? `act on it in the console or with aws arc-region-switch (approve, resume or cancel), then re-run this command to follow it`
      : `see the execution's report in ${c.plan.to.site}'s bucket (reports/region-switch/) and the console, fix the cause, then re-run this command to start a new execution`;
  if (outcome === "failed") c.state.execution = undefined;
  throw new Error(`execution ${found.executionId} is ${end.executionState} (${steps}); ${next}`);
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
      // A second operator, or a re-run without the state file: the plan has promoted already.
      if (err instanceof NotAReplica) {
        throw new Error(
          `${to}'s database is no longer a replica (${errorText(err)}): the promotion has run. Do not start ` +
            `the plan again; follow its execution in the console or with aws arc-region-switch ` +
            `get-plan-execution --region ${plan.to.region}, then run drctl failover reconcile --to ${to}`,
        );
      }
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
  await compareSecrets(step, c, notes);
  for (const problem of c.stateProblems) c.warning(problem);
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
 * Both master secrets, read in the activating region (its own, and the other site's replica):
 * what the applications and the plan's checks log in with must be right before the switch.
 */
async function compareSecrets(step: Step, c: CheckContext, notes: string[]): Promise<void> {
  const { plan, probes, naming } = c;
  const target = step.calls.find((t) => t.service === "Secrets Manager") ?? step.calls[0];
  const read = async (site: typeof plan.to) => ({
    site: site.site,
    readIn: plan.to.region,
    region: site.region,
    dbIdentifier: dbInstanceIdentifier(naming, site),
    secret: await c.call(target, "aws", (s) => probes.masterSecret(site.site, plan.to.region, s)),
  });
  const problems = masterSecretProblems(await read(plan.to), await read(plan.from));
  if (problems.length > 0) {
    throw new Error(
      `the master secrets would not let the applications log in after the switch:\n  - ${problems.join("\n  - ")}\n` +
        `Fix the secrets (docs/runbooks/database-failover.md), then re-run. The plan itself can still be run ` +
        `without drctl (drctl failover --to ${plan.to.site} --print).`,
    );
  }
  notes.push("master secrets agree");
}

/** Failback: the rebuilt replica catches up with the current primary before the switchover. */
async function waitLag(step: Step, c: CheckContext): Promise<StepResult> {
  const { probes, clock, lagTimeoutSeconds } = c;
  const limit = c.maxLagSeconds;
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
