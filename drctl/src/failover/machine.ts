import type { NamingInput } from "../../../components/naming";
import type { RegionSwitchClient, ExecutionMode } from "./regionSwitch/client";
import type { PlanQuery } from "./regionSwitch/execution";
import { DeadlineExceeded, withDeadline, type DeadlineName, type Deadlines } from "./deadlines";
import { formatSeconds } from "./duration";
import { describeCall, type CallTarget, type ConfigChange, type Plan, type Step } from "./plan";
import type { Clock, Controls, Probes, StackOps } from "./ports";
import { errorText, ObjectiveBreached, runCheck, type StepResult } from "./checks";
import { saveState, type RunState, type StepRecord } from "./stateFile";

export interface MachineOptions {
  readonly plan: Plan;
  readonly state: RunState;
  readonly statePath: string;
  readonly ops: StackOps;
  readonly probes: Probes;
  readonly controls: Controls;
  /** A Region switch client for one region's data plane. */
  readonly regionSwitch: (region: string) => RegionSwitchClient;
  readonly planQuery: PlanQuery;
  /** Names of both sites' resources (components/naming.ts). */
  readonly naming: NamingInput;
  /** `--mode`: how the failover runs the plan (a failback always runs it graceful). */
  readonly mode: ExecutionMode;
  /** Problems of where the Pulumi state and secrets live (stateLocation.ts): warnings. */
  readonly stateProblems: readonly string[];
  readonly clock: Clock;
  readonly deadlines: Deadlines;
  /** `--max-data-loss`: refuse a failover whose RPO bound is larger (or unknown). */
  readonly maxDataLossSeconds?: number;
  /** Failback: the replica lag to wait for before the switchover (`--max-lag`). */
  readonly maxLagSeconds: number;
  /** Older newest-backup than this is a warning in the report (config `alarms.backupMaxAgeHours`). */
  readonly backupMaxAgeSeconds: number;
  readonly lagTimeoutSeconds: number;
  readonly checkTimeoutSeconds: number;
  /** How long drctl follows the plan's execution (it goes on in AWS afterwards). */
  readonly followTimeoutSeconds: number;
  readonly log: (line: string) => void;
  readonly warn: (line: string) => void;
}

export type Outcome =
  | { readonly kind: "done" }
  | { readonly kind: "failed" | "breached"; readonly step: string; readonly message: string };

/** A bound, recorded remote call: what a step hands the checks in checks.ts. */
export type CallFn = <T>(
  target: CallTarget,
  deadline: DeadlineName,
  fn: (signal: AbortSignal) => Promise<T>,
) => Promise<T>;

export class FailoverMachine {
  constructor(private readonly o: MachineOptions) {}

  /** Runs every step not yet done, persisting progress after each; stops at the first failure. */
  async run(): Promise<Outcome> {
    const { plan, clock } = this.o;
    for (const step of plan.steps) {
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
        rec.error = errorText(err ?? new Error("step failed"));
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
    this.o.state.finishedAt = new Date(clock.now()).toISOString();
    this.persist();
    return { kind: "done" };
  }

  /** The step's record, created in plan order when a state file lacks it. */
  private record(step: Step): StepRecord {
    const found = this.o.state.steps.find((s) => s.id === step.id);
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

  /** One remote call with its deadline, recorded in the report whatever its outcome. */
  private call(step: Step): CallFn {
    return async (target, deadline, fn) => {
      const { clock, deadlines, state } = this.o;
      const seconds = deadlines[deadline];
      const t0 = clock.now();
      const entry = { step: step.id, target: describeCall(target), deadlineSeconds: seconds };
      try {
        const out = await withDeadline(clock, describeCall(target), seconds, fn);
        state.calls.push({ ...entry, outcome: "ok", seconds: (clock.now() - t0) / 1000 });
        return out;
      } catch (err) {
        state.calls.push({
          ...entry,
          outcome: err instanceof DeadlineExceeded ? "timed out" : "failed",
          seconds: (clock.now() - t0) / 1000,
          error: errorText(err),
        });
        throw err;
      }
    };
  }

  private async execute(step: Step): Promise<StepResult> {
    const { ops } = this.o;
    const call = this.call(step);
    const [first] = step.calls;
    switch (step.kind) {
      case "rebuild":
      case "reprotect":
      case "settle":
      case "links":
        await this.apply(step);
        return undefined;
      case "fenceStack":
      case "fenceConfig": {
        const from = this.o.plan.from;
        if (from.role !== "primary" && from.previousRole === undefined) {
          return {
            note: `stack ${step.stack} says ${from.role ?? "nothing readable"}: nothing to reconcile`,
          };
        }
        await this.apply(step);
        return undefined;
      }
      case "refresh": {
        const targets = step.targets ?? [];
        await call(first, "up", (s) => ops.refresh(step.stack, targets, s));
        return { note: `read back ${targets.join(", ")}` };
      }
      case "emptyPreview": {
        const summary = await call(first, "stack", (s) => ops.preview(step.stack, s));
        const pending = Object.entries(summary).filter(([op, n]) => op !== "same" && n > 0);
        if (pending.length > 0) {
          throw new Error(
            `the next up of stack ${step.stack} would still change ${pending.map(([op, n]) => `${op} ${n}`).join(", ")}; ` +
              `run pulumi preview --diff --stack ${step.stack} to see what, fix the config, and re-run`,
          );
        }
        return { note: `nothing to change (same ${summary.same ?? 0})` };
      }
      default:
        return runCheck(step, {
          ...this.o,
          call,
          warning: (text) => this.warning(text),
          persist: () => saveState(this.o.statePath, this.o.state),
        });
    }
  }

  /** Select, edit, `up` when the step has one, then the settling edits; every call bounded. */
  private async apply(step: Step): Promise<void> {
    const { ops } = this.o;
    const call = this.call(step);
    const [target] = step.calls;
    const config = { ...target, action: "select stack, pulumi config set/rm" };
    await call(config, "stack", (s) => ops.select(step.stack, s));
    const edit = async (changes: readonly ConfigChange[]): Promise<void> => {
      for (const c of changes) {
        await call(config, "stack", (s) =>
          c.op === "set"
            ? ops.setConfig(step.stack, c.key, c.value ?? "", { path: c.path }, s)
            : ops.removeConfig(step.stack, c.key, { path: c.path }, s),
        );
      }
    };
    await edit(step.changes);
    if (step.up) await call(target, "up", (s) => ops.up(step.stack, s));
    await edit(step.settle ?? []);
  }
}
