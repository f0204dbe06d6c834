import { formatSeconds } from "./duration";
import type { ConfigChange, Plan, Step } from "./plan";
import type { Clock, DnsOps, Probes, StackOps } from "./ports";
import { saveState, type RunState, type StepRecord } from "./stateFile";

/** The run stopped because a guard said no (replica lag over the limit): exit 2, not a failure. */
export class ObjectiveBreached extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ObjectiveBreached";
  }
}

export interface MachineOptions {
  readonly plan: Plan;
  readonly state: RunState;
  readonly statePath: string;
  readonly ops: StackOps;
  readonly probes: Probes;
  /** Route 53, for the old site's record when fencing was skipped. */
  readonly dns: DnsOps;
  readonly clock: Clock;
  readonly maxLagSeconds: number;
  readonly force: boolean;
  /** Older newest-backup than this is a warning in the report (config `alarms.backupMaxAgeHours`). */
  readonly backupMaxAgeSeconds: number;
  readonly lagTimeoutSeconds: number;
  readonly checkTimeoutSeconds: number;
  readonly log: (line: string) => void;
  readonly warn: (line: string) => void;
}

export type Outcome =
  | { readonly kind: "done" }
  | { readonly kind: "failed" | "breached"; readonly step: string; readonly message: string };

/** Replica lag is a one-minute CloudWatch metric: polling faster only re-reads the same datapoint. */
export const LAG_POLL_SECONDS = 30;
/** Route 53 health checks run every 10 s; the post-checks poll at that pace. */
export const CHECK_POLL_SECONDS = 10;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Why a step ended without doing its work; undefined when it did it. */
type StepResult = { readonly skipped?: string; readonly note?: string } | undefined;

export class FailoverMachine {
  constructor(private readonly o: MachineOptions) {}

  /** Runs every step not yet done, persisting progress after each; stops at the first failure. */
  async run(): Promise<Outcome> {
    const { plan, state, clock } = this.o;
    for (const step of plan.steps) {
      if (step.onlyIfSkipped !== undefined && this.find(step.onlyIfSkipped)?.status !== "skipped") {
        this.o.log(`  = ${step.title}: not needed (${step.onlyIfSkipped} was not skipped)`);
        continue;
      }
      const rec = this.record(step);
      if (rec.status === "done" || rec.status === "skipped") {
        this.o.log(`  = ${step.title}: already ${rec.status} (resumed run)`);
        continue;
      }
      rec.status = "running";
      rec.attempts += 1;
      rec.startedAt = new Date(clock.now()).toISOString();
      rec.error = undefined;
      this.persist();
      this.o.log(`  > ${step.title}`);
      const t0 = clock.now();
      let result: StepResult;
      try {
        result = await this.execute(step);
      } catch (err) {
        this.finish(rec, t0);
        rec.status = "failed";
        rec.error = errorText(err);
        this.persist();
        const kind = err instanceof ObjectiveBreached ? "breached" : "failed";
        return { kind, step: step.id, message: rec.error };
      }
      this.finish(rec, t0);
      rec.status = result?.skipped ? "skipped" : "done";
      rec.note = result?.skipped ?? result?.note;
      this.persist();
      this.o.log(
        `    ${rec.status} in ${formatSeconds(clock.now() / 1000 - t0 / 1000)}${rec.note ? `: ${rec.note}` : ""}`,
      );
    }
    state.finishedAt = new Date(clock.now()).toISOString();
    this.persist();
    return { kind: "done" };
  }

  private find(id: string): StepRecord | undefined {
    return this.o.state.steps.find((s) => s.id === id);
  }

  /**
   * The step's record, created in plan order when missing: a conditional step gets one only when it
   * runs, and a state file written by an older drctl may lack a step added since.
   */
  private record(step: Step): StepRecord {
    const found = this.find(step.id);
    if (found) return found;
    const rec: StepRecord = { id: step.id, title: step.title, status: "pending", attempts: 0 };
    const order = this.o.plan.steps.map((s) => s.id);
    const later = this.o.state.steps.findIndex((s) => order.indexOf(s.id) > order.indexOf(step.id));
    if (later === -1) this.o.state.steps.push(rec);
    else this.o.state.steps.splice(later, 0, rec);
    return rec;
  }

  /** Time across attempts adds up: the report's RTO is what the operator actually waited. */
  private finish(rec: StepRecord, t0: number): void {
    const now = this.o.clock.now();
    rec.finishedAt = new Date(now).toISOString();
    rec.durationSeconds = (rec.durationSeconds ?? 0) + (now - t0) / 1000;
  }

  /**
   * Nothing is written until a step past preflight has started: a refused preflight changed nothing,
   * so it leaves no state behind that would block a later run to the other site.
   */
  private persist(): void {
    const started = this.o.state.steps.some((s) => s.id !== "preflight" && s.status !== "pending");
    if (started) saveState(this.o.statePath, this.o.state);
  }

  private warning(text: string): void {
    this.o.state.warnings.push(text);
    this.o.warn(text);
  }

  private async execute(step: Step): Promise<StepResult> {
    switch (step.kind) {
      case "preflight":
        return this.preflight();
      case "fence":
        return this.fence(step);
      case "rebuild":
      case "reprotect":
      case "promote":
        await this.apply(step);
        return undefined;
      case "releaseDns":
        return this.releaseDns(step);
      case "waitLag":
        return this.waitLag(step);
      case "checkWrite":
        return this.poll(step, async () => {
          await this.o.probes.writeCheck(step.site);
          return `${step.site} accepted a write`;
        });
      case "checkDns":
        return this.poll(step, async () => {
          const answer = await this.o.probes.dnsAnswer();
          if (answer === step.site) return `DNS answers with ${step.site}`;
          throw new Error(`DNS answers with ${answer ?? "neither site"}, expected ${step.site}`);
        });
    }
  }

  private async preflight(): Promise<StepResult> {
    const { plan, probes, maxLagSeconds, force } = this.o;
    const notes: string[] = [];
    const record: RunState["preflight"] = { maxLagSeconds, forced: force };
    this.o.state.preflight = record;
    if (plan.direction === "failover") {
      const to = plan.to.site;
      const lag = await probes.replicaLagSeconds(to);
      record.replicaLagSeconds = lag;
      const measured = lag === undefined ? "unknown (no ReplicaLag datapoint)" : `${lag}s`;
      if (lag === undefined || lag > maxLagSeconds) {
        const breach = `replica lag of ${to} is ${measured}, over the limit of ${maxLagSeconds}s (--max-lag)`;
        if (!force) {
          throw new ObjectiveBreached(
            `${breach}. Promoting now could lose up to that much of the writes made on ${plan.from.site}. ` +
              `Wait for the lag to fall and re-run, or re-run with --force to accept the loss.`,
          );
        }
        this.warning(`FORCED: ${breach}; writes newer than that may be lost (RPO breached)`);
      }
      notes.push(`replica lag ${measured} (limit ${maxLagSeconds}s${force ? ", --force" : ""})`);
    }
    if (probes.newestBackupAgeSeconds) {
      const site = plan.direction === "failover" ? plan.to.site : plan.from.site;
      const age = await probes.newestBackupAgeSeconds(site);
      record.newestBackupAgeSeconds = age;
      if (age === undefined) {
        this.warning(
          `no complete logical backup found for ${site}; restore points are RDS/AWS Backup only`,
        );
      } else {
        notes.push(`newest backup of ${site} ${formatSeconds(age)} old`);
        if (age > this.o.backupMaxAgeSeconds) {
          this.warning(
            `newest backup of ${site} is ${formatSeconds(age)} old, over ${formatSeconds(this.o.backupMaxAgeSeconds)} ` +
              `(alarms.backupMaxAgeHours): take one with drctl backup once the new primary is up`,
          );
        }
      }
    }
    return { note: notes.join("; ") || undefined };
  }

  /**
   * A failover fences the old primary only if it can: during a regional outage its API or its Pulumi
   * state may be gone, and waiting for it would stretch the RTO. A planned switchover (failback)
   * never skips fencing: two writable primaries would split the data.
   */
  private async fence(step: Step): Promise<StepResult> {
    const { plan, probes, ops } = this.o;
    let unreachable: string | undefined;
    const fenceLater =
      `fence it as soon as it returns: pulumi config set dr-stack:role fenced --stack ${step.stack} ` +
      `&& pulumi up --stack ${step.stack}`;
    if (!(await probes.regionReachable(step.site))) {
      unreachable = `the region of ${step.site} does not answer`;
    } else {
      try {
        await ops.select(step.stack);
      } catch (err) {
        unreachable = `stack ${step.stack} cannot be selected (${errorText(err)})`;
      }
    }
    if (unreachable !== undefined) {
      if (plan.direction === "failback") {
        throw new Error(
          `cannot fence ${step.site}: ${unreachable}. A planned switchover never skips fencing. ` +
            `Restore access and re-run this command; if ${step.site} is lost, move the state file aside ` +
            `and run drctl failover --to ${plan.to.site}.`,
        );
      }
      this.warning(
        `!!! FENCING SKIPPED: ${unreachable}. ${step.site} was NOT made read-only and may still take ` +
          `writes if it comes back; ${fenceLater}`,
      );
      return { skipped: `fencing skipped: ${unreachable}` };
    }
    await this.apply(step, { selected: true });
    return undefined;
  }

  /**
   * Fencing was skipped, so the old site's PRIMARY record is still in the zone and Route 53 would
   * refuse the target's record becoming PRIMARY. Route 53's API is global and answers while the old
   * region does not; the record is named from shared config (DESIGN §2). "absent" counts as done,
   * so a resumed run (or an operator who deleted it by hand) passes.
   */
  private async releaseDns(step: Step): Promise<StepResult> {
    const ref = step.dnsRecord;
    if (!ref) throw new Error(`step ${step.id} names no DNS record to release`);
    const what = `PRIMARY record ${ref.setIdentifier} (${ref.recordName} ${ref.recordType})`;
    let result: "deleted" | "absent";
    try {
      result = await this.o.dns.deleteFailoverRecord(ref);
    } catch (err) {
      throw new Error(
        `could not delete ${step.site}'s ${what} in Route 53 zone ${ref.zoneId}: ${errorText(err)}. ` +
          `The promoting -> primary update needs it gone (Route 53 allows one PRIMARY per name and type). ` +
          `Re-run the same command to retry (it resumes here), or delete the record by hand ` +
          `(docs/dns-failover.md) and re-run.`,
      );
    }
    this.o.state.dnsRelease = result;
    this.warning(
      `${step.site}'s DNS ${what} is ${result === "deleted" ? "deleted" : "already gone"} in Route 53, ` +
        `but stack ${step.stack} still records it: when ${step.site} returns, run ` +
        `pulumi refresh --stack ${step.stack} before fencing it`,
    );
    return {
      note:
        result === "deleted"
          ? `deleted ${what} from zone ${ref.zoneId}`
          : `no ${what} in zone ${ref.zoneId}: nothing to delete`,
    };
  }

  private async apply(
    step: Step,
    opts: { selected: boolean } = { selected: false },
  ): Promise<void> {
    const { ops } = this.o;
    if (!opts.selected) await ops.select(step.stack);
    const edit = async (changes: readonly ConfigChange[]): Promise<void> => {
      for (const c of changes) {
        if (c.op === "set") await ops.setConfig(step.stack, c.key, c.value ?? "", { path: c.path });
        else await ops.removeConfig(step.stack, c.key, { path: c.path });
      }
    };
    await edit(step.changes);
    if (step.up) await ops.up(step.stack);
    await edit(step.settle ?? []);
  }

  private async waitLag(step: Step): Promise<StepResult> {
    const { probes, clock, lagTimeoutSeconds } = this.o;
    const maxLagSeconds = step.lagLimitSeconds ?? this.o.maxLagSeconds;
    const deadline = clock.now() + lagTimeoutSeconds * 1000;
    for (;;) {
      const lag = await probes.replicaLagSeconds(step.site);
      if (lag !== undefined && lag <= maxLagSeconds) {
        return { note: `replica lag ${lag}s (limit ${maxLagSeconds}s)` };
      }
      if (clock.now() >= deadline) {
        const measured = lag === undefined ? "unknown (no ReplicaLag datapoint)" : `${lag}s`;
        throw new ObjectiveBreached(
          `replica lag of ${step.site} is still ${measured} after ${formatSeconds(lagTimeoutSeconds)}, ` +
            `over the limit of ${maxLagSeconds}s; the replica has not caught up. ` +
            `Re-run the same command to keep waiting (it resumes here), or raise --lag-timeout.`,
        );
      }
      await clock.sleep(LAG_POLL_SECONDS * 1000);
    }
  }

  /** Retries `check` until it passes or --check-timeout runs out: DNS moves only after health checks and TTL. */
  private async poll(step: Step, check: () => Promise<string>): Promise<StepResult> {
    const { clock, checkTimeoutSeconds } = this.o;
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
}
