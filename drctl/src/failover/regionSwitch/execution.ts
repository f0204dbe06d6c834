import { formatSeconds } from "../duration";
import type { Clock } from "../ports";
import {
  GetPlanExecutionCommand,
  ListPlansInRegionCommand,
  StartPlanExecutionCommand,
  type AbbreviatedPlan,
  type ExecutionMode,
  type ExecutionState,
  type GetPlanExecutionOutput,
  type RegionSwitchClient,
} from "./client";

/**
 * Starting and following the pair's Region switch plan from the Region it activates. Every call
 * here is a data-plane operation served in that Region (ListPlansInRegion, StartPlanExecution,
 * GetPlanExecution: "Data plane API: Yes" in
 * https://docs.aws.amazon.com/r53recovery/latest/dg/actions.region-switch.html), so nothing here
 * needs the Region being left, nor ARC's control plane.
 */

/** What identifies the pair's plan among the account's plans in a Region. */
export interface PlanQuery {
  readonly accountId: string;
  /** Both sites' regions: a plan's `regions` are exactly two. */
  readonly regions: readonly [string, string];
  /** `--plan-name`: required only when the account holds several plans over the same regions. */
  readonly name?: string;
}

/** One bounded call: the machine's recorder with its deadline. */
export type Bounded = <T>(what: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;

/**
 * The plan, found with ListPlansInRegion in the activating Region: the account's active/passive
 * plan over exactly the pair's two regions (and the given name, if any). Nothing is read from the
 * other Region or from any stack's state.
 */
export async function findPlan(
  client: RegionSwitchClient,
  region: string,
  q: PlanQuery,
  call: Bounded,
): Promise<AbbreviatedPlan> {
  const plans: AbbreviatedPlan[] = [];
  let nextToken: string | undefined;
  do {
    const page = await call(`${region} ARC Region switch: ListPlansInRegion`, (abortSignal) =>
      client.send(new ListPlansInRegionCommand({ nextToken }), { abortSignal }),
    );
    plans.push(...(page.plans ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const pair = [...q.regions].sort().join(",");
  const matches = plans.filter(
    (p) =>
      p.owner === q.accountId &&
      [...p.regions].sort().join(",") === pair &&
      (q.name === undefined || p.name === q.name),
  );
  if (matches.length === 1) return matches[0];
  const seen = plans.map((p) => `${p.name} (${p.regions.join(", ")})`).join("; ") || "none";
  if (matches.length === 0) {
    throw new Error(
      `no Region switch plan of account ${q.accountId} over ${q.regions.join(" and ")}` +
        `${q.name ? ` named ${q.name}` : ""} is listed in ${region} (plans there: ${seen}). ` +
        `Deploy the plan's owning stack first (docs/failover.md), or pass --plan-name.`,
    );
  }
  throw new Error(
    `${matches.length} Region switch plans over ${q.regions.join(" and ")} are listed in ${region} ` +
      `(${matches.map((p) => p.name).join(", ")}); pass --plan-name to choose one`,
  );
}

/** How an execution ended, by the API reference's executionState values. */
export type ExecutionEnd = "succeeded" | "failed" | "paused";

const SUCCEEDED: readonly ExecutionState[] = [
  "completed",
  "completedWithExceptions",
  "completedMonitoringApplicationHealth",
];
const FAILED: readonly ExecutionState[] = ["failed", "canceled", "planExecutionTimedOut"];
/** An operator must act in the console or with the CLI (approve, resume, cancel). */
const PAUSED: readonly ExecutionState[] = [
  "pausedByFailedStep",
  "pausedByOperator",
  "pendingManualApproval",
];

export function executionEnd(state: ExecutionState): ExecutionEnd | undefined {
  if (SUCCEEDED.includes(state)) return "succeeded";
  if (FAILED.includes(state)) return "failed";
  if (PAUSED.includes(state)) return "paused";
  return undefined;
}

/** Starts the activation of `region`; returns the execution id. */
export async function startActivation(
  client: RegionSwitchClient,
  plan: AbbreviatedPlan,
  region: string,
  mode: ExecutionMode,
  comment: string,
  call: Bounded,
): Promise<string> {
  const out = await call(`${region} ARC Region switch: StartPlanExecution`, (abortSignal) =>
    client.send(
      new StartPlanExecutionCommand({
        planArn: plan.arn,
        targetRegion: region,
        action: "activate",
        mode,
        comment,
      }),
      { abortSignal },
    ),
  );
  if (!out.executionId) {
    throw new Error(`StartPlanExecution in ${region} returned no executionId`);
  }
  return out.executionId;
}

export interface FollowOptions {
  readonly clock: Clock;
  readonly pollSeconds: number;
  /** Give up following (the execution goes on in AWS) after this long. */
  readonly timeoutSeconds: number;
  readonly call: Bounded;
  readonly log: (line: string) => void;
}

/**
 * Polls GetPlanExecution until the execution ends, pauses or `timeoutSeconds` pass, printing each
 * step whose status changed. A poll that fails is retried at the next interval: the execution
 * runs in AWS whether or not drctl sees it.
 */
export async function followExecution(
  client: RegionSwitchClient,
  region: string,
  planArn: string,
  executionId: string,
  o: FollowOptions,
): Promise<GetPlanExecutionOutput> {
  const seen = new Map<string, string>();
  const t0 = o.clock.now();
  let last: GetPlanExecutionOutput | undefined;
  let lastError = "";
  for (;;) {
    try {
      last = await o.call(`${region} ARC Region switch: GetPlanExecution`, (abortSignal) =>
        client.send(new GetPlanExecutionCommand({ planArn, executionId }), { abortSignal }),
      );
      lastError = "";
      for (const s of last.stepStates ?? []) {
        const name = s.name ?? "?";
        if (seen.get(name) === s.status) continue;
        seen.set(name, s.status ?? "?");
        const at = formatSeconds((o.clock.now() - t0) / 1000);
        o.log(
          `    +${at}  step ${name}: ${s.status ?? "?"}${s.stepMode ? ` (${s.stepMode})` : ""}`,
        );
      }
      if (executionEnd(last.executionState)) return last;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      o.log(`    GetPlanExecution failed (${lastError}); trying again`);
    }
    if ((o.clock.now() - t0) / 1000 >= o.timeoutSeconds) {
      throw new Error(
        `execution ${executionId} is still ${last?.executionState ?? `unread (${lastError})`} after ` +
          `${formatSeconds(o.timeoutSeconds)} (--follow-timeout); it goes on in AWS. Follow it in the ` +
          `console or with aws arc-region-switch get-plan-execution --region ${region} --plan-arn ` +
          `${planArn} --execution-id ${executionId}, then run drctl failover reconcile.`,
      );
    }
    await o.clock.sleep(o.pollSeconds * 1000);
  }
}

export interface PrintInput {
  readonly region: string;
  readonly accountId: string;
  readonly regions: readonly [string, string];
  readonly mode: ExecutionMode;
  readonly planName?: string;
  readonly site: string;
}

/**
 * The same activation without drctl or a checkout: the console path and the AWS CLI commands
 * (`aws arc-region-switch list-plans-in-region | start-plan-execution | get-plan-execution`,
 * https://docs.aws.amazon.com/cli/latest/reference/arc-region-switch/). `--region` sends each
 * command to that Region's data-plane endpoint.
 */
export function printActivation(p: PrintInput): string {
  const filter = p.planName
    ? `name=='${p.planName}'`
    : `owner=='${p.accountId}' && contains(regions, '${p.regions[0]}') && contains(regions, '${p.regions[1]}')`;
  return [
    `Activate ${p.region} (${p.site}) with the Region switch plan, from ${p.region} only:`,
    ``,
    `Console (signed in to the account, Region ${p.region}):`,
    `  Application Recovery Controller > Region switch > the plan over ${p.regions.join(" and ")}` +
      `${p.planName ? ` (${p.planName})` : ""} > Execute > Activate ${p.region}, mode ${p.mode}.`,
    `  Then follow the steps on the execution's page.`,
    ``,
    `AWS CLI (any machine with credentials for the account; no checkout, no Pulumi):`,
    `  PLAN_ARN=$(aws arc-region-switch list-plans-in-region --region ${p.region} \\`,
    `    --query "plans[?${filter}].arn | [0]" --output text)`,
    `  EXECUTION_ID=$(aws arc-region-switch start-plan-execution --region ${p.region} \\`,
    `    --plan-arn "$PLAN_ARN" --target-region ${p.region} --action activate --mode ${p.mode} \\`,
    `    --comment "activate ${p.site}" --query executionId --output text)`,
    `  aws arc-region-switch get-plan-execution --region ${p.region} \\`,
    `    --plan-arn "$PLAN_ARN" --execution-id "$EXECUTION_ID" \\`,
    `    --query "{state: executionState, steps: stepStates[].[name, status]}"`,
    ``,
    `Repeat the last command until the state is completed, then, from a checkout:`,
    `  drctl failover reconcile --to ${p.site}`,
    ``,
  ].join("\n");
}
