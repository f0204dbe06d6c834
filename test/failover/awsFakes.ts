import type { AwsClientStub } from "aws-sdk-client-mock";
import {
  GetPlanExecutionCommand,
  ListPlanExecutionsCommand,
  ListPlansInRegionCommand,
  RegionSwitchClient,
  RegionSwitchServiceError,
  StartPlanExecutionCommand,
  type AbbreviatedPlan,
  type ExecutionMode,
  type ExecutionState,
  type GetPlanExecutionOutput,
  type StartPlanExecutionInput,
  type StepState,
} from "../../drctl/src/failover/regionSwitch/client";
import type { FakeAws, FakeWorld } from "./fakes";

const SITE_OF_REGION: Record<string, string> = { "us-east-1": "use1", "us-west-2": "usw2" };
const REGION_OF_SITE: Record<string, string> = { use1: "us-east-1", usw2: "us-west-2" };

/**
 * Route 53's answer for the service's two failover records, as the API reference states it for
 * records that both carry a health check
 * (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html, Failover):
 * - primary healthy: the primary, whatever the secondary;
 * - primary unhealthy, secondary healthy: the secondary;
 * - "When the secondary resource record set is unhealthy, Route 53 responds to DNS queries with
 *   the applicable value from the primary resource record set regardless of the health of the
 *   primary resource record set." Both unhealthy: the primary.
 * use1's record is PRIMARY and usw2's SECONDARY in every role (Pulumi.*.yaml dns.primarySite).
 */
export class FakeRoute53 {
  /** The Region switch health checks: healthy for the region the last execution activated. */
  readonly regionSwitch: Record<string, boolean> = { use1: true, usw2: false };
  /** Each site's own /healthz, as an endpoint health check would see it. */
  readonly endpoint: Record<string, boolean> = { use1: true, usw2: true };
  /** Databases the plan's fence function made read-only. */
  readonly fenced = new Set<string>();
  /**
   * What gates each record: the Region switch check alone (the stack's records), or a calculated
   * check that also needs the endpoint, the gate the Region switch plan replaces.
   */
  gate: "regionSwitch" | "regionSwitchAndEndpoint" = "regionSwitch";

  healthy(site: string): boolean {
    const rs = this.regionSwitch[site];
    return this.gate === "regionSwitch" ? rs : rs && this.endpoint[site];
  }

  answer(): string {
    if (this.healthy("use1")) return "use1";
    if (this.healthy("usw2")) return "usw2";
    return "use1";
  }
}

interface Execution {
  readonly planArn: string;
  readonly executionId: string;
  readonly activate: string;
  readonly deactivate: string;
  readonly mode: ExecutionMode;
  readonly startTime: Date;
  endTime?: Date;
  state: ExecutionState;
  readonly steps: { name: string; status: NonNullable<StepState["status"]> }[];
}

/** The pair's plan's steps, in the order the plan runs them (the stack's Region switch plan). */
export const PLAN_STEPS = [
  "fence-old-primary",
  "promote-replica",
  "route-traffic",
  "scale-applications",
  "post-check",
] as const;

const error = (name: string, message: string, status: number) =>
  new RegionSwitchServiceError(name, `${name}: ${message}`, { httpStatusCode: status });

/**
 * ARC Region switch as its API reference describes it, behind aws-sdk-client-mock. Each call
 * enters the fake world in the region of the client that sent it, so a black-holed region's
 * data plane does not answer. Each GetPlanExecution moves the execution one step on (a step
 * starts, then ends), so a follower sees every state the reference lists on the way.
 * - StartPlanExecution: https://docs.aws.amazon.com/arc-region-switch/latest/api/API_StartPlanExecution.html
 *   (targetRegion one of the plan's regions; ResourceNotFoundException for an unknown plan;
 *   IllegalStateException "the current state of the resource doesn't allow the operation": the
 *   fake raises it for a second start while one runs; no page lists the states, and drctl reads
 *   the plan's activePlanExecution before starting rather than relying on it);
 * - GetPlanExecution: https://docs.aws.amazon.com/arc-region-switch/latest/api/API_GetPlanExecution.html
 *   (executionState, stepStates with status notStarted | running | completed | failed | skipped);
 * - ungraceful mode skips the steps that act on the Region being deactivated (a Lambda's
 *   `ungraceful: {behavior: skip}`, https://docs.aws.amazon.com/arc-region-switch/latest/api/API_LambdaUngraceful.html).
 */
export class FakeRegionSwitch {
  readonly plan: AbbreviatedPlan = {
    arn: "arn:aws:arc-region-switch::111122223333:plan/acme-dr-dr:a1b2c3",
    owner: "111122223333",
    name: "acme-dr-dr",
    regions: ["us-east-1", "us-west-2"],
    recoveryApproach: "activePassive",
    primaryRegion: "us-east-1",
    recoveryTimeObjectiveMinutes: 60,
  };
  readonly executions: Execution[] = [];
  /** Every call, `<region> <Operation>`. */
  readonly calls: string[] = [];
  /** Route 53's answer after each step moved on: what clients resolved during the execution. */
  readonly answers: { step: string; status: string; answer: string }[] = [];
  /** Called each time a step starts or ends, before Route 53's answer is recorded. */
  onStep: ((step: string, status: string) => void) | undefined;
  /** A step that fails when it ends, once: the execution pauses (pausedByFailedStep). */
  failStep: string | undefined;

  constructor(
    private readonly world: FakeWorld,
    private readonly aws: FakeAws,
    private readonly route53: FakeRoute53,
  ) {}

  private active(): Execution | undefined {
    return this.executions.find((e) => e.state === "inProgress");
  }

  private async enter(client: unknown, op: string): Promise<string> {
    const region = (client as { config: { region: string } }).config.region;
    this.calls.push(`${region} ${op}`);
    await this.world.enter(region, "ARC Region switch", op);
    return region;
  }

  install(mock: AwsClientStub<RegionSwitchClient>): void {
    mock.on(ListPlansInRegionCommand).callsFake(async (_input, getClient) => {
      await this.enter(getClient(), "ListPlansInRegion");
      const running = this.active();
      return { plans: [{ ...this.plan, activePlanExecution: running?.executionId }] };
    });
    mock
      .on(StartPlanExecutionCommand)
      .callsFake(async (input: StartPlanExecutionInput, getClient) => {
        await this.enter(getClient(), "StartPlanExecution");
        return this.start(input);
      });
    mock.on(GetPlanExecutionCommand).callsFake(async (input, getClient) => {
      const region = await this.enter(getClient(), "GetPlanExecution");
      return this.get(input as { planArn: string; executionId: string }, region);
    });
    mock.on(ListPlanExecutionsCommand).callsFake(async (_input, getClient) => {
      await this.enter(getClient(), "ListPlanExecutions");
      return { items: this.executions.map((e) => this.view(e, e.activate)) };
    });
  }

  /** An operator resumes a paused execution in the console: the failed step runs again. */
  resume(): void {
    const e = this.executions.find((x) => x.state === "pausedByFailedStep");
    const step = e?.steps.find((s) => s.status === "failed");
    if (!e || !step) throw new Error("no paused execution");
    step.status = "running";
    e.state = "inProgress";
  }

  /** Another operator's execution, started from the console. */
  startForTest(region: string): Promise<unknown> {
    return Promise.resolve(
      this.start({
        planArn: this.plan.arn,
        targetRegion: region,
        action: "activate",
        mode: "ungraceful",
      }),
    );
  }

  private start(input: StartPlanExecutionInput) {
    if (input.planArn !== this.plan.arn) {
      throw error("ResourceNotFoundException", `plan ${input.planArn} not found`, 404);
    }
    if (!this.plan.regions.includes(input.targetRegion) || input.action !== "activate") {
      throw error("IllegalArgumentException", `cannot ${input.action} ${input.targetRegion}`, 400);
    }
    if (this.active()) {
      throw error("IllegalStateException", `an execution of ${this.plan.name} is in progress`, 400);
    }
    const deactivate = this.plan.regions.find((r) => r !== input.targetRegion) as string;
    const executionId = `${input.targetRegion}/${String(this.executions.length + 1).padStart(16, "0")}`;
    this.executions.push({
      planArn: input.planArn,
      executionId,
      activate: input.targetRegion,
      deactivate,
      mode: input.mode ?? "graceful",
      startTime: new Date("2025-03-01T12:01:00.000Z"),
      state: "inProgress",
      steps: PLAN_STEPS.map((name) => ({ name, status: "notStarted" as const })),
    });
    return {
      executionId,
      plan: this.plan.arn,
      planVersion: "1",
      activateRegion: input.targetRegion,
      deactivateRegion: deactivate,
    };
  }

  private view(e: Execution, region: string) {
    return {
      planArn: e.planArn,
      executionId: e.executionId,
      startTime: e.startTime,
      endTime: e.endTime,
      mode: e.mode,
      executionState: e.state,
      executionAction: "activate" as const,
      executionRegion: region,
    };
  }

  private get(
    input: { planArn: string; executionId: string },
    region: string,
  ): GetPlanExecutionOutput {
    const e = this.executions.find((x) => x.executionId === input.executionId);
    if (!e || e.planArn !== input.planArn) {
      throw error("ResourceNotFoundException", `execution ${input.executionId} not found`, 404);
    }
    if (e.state === "inProgress") this.advance(e);
    return {
      ...this.view(e, region),
      stepStates: e.steps.map((s) => ({ name: s.name, status: s.status, stepMode: e.mode })),
      $metadata: {},
    };
  }

  /** The next step starts, or the running one ends with what it did. */
  private advance(e: Execution): void {
    const step = e.steps.find((s) => s.status === "notStarted" || s.status === "running");
    if (!step) return;
    const activating = SITE_OF_REGION[e.activate];
    const leaving = SITE_OF_REGION[e.deactivate];
    const down = (region: string) => this.world.down.has(region);
    if (step.status === "notStarted") {
      // The fence acts on the Region being left: skipped in ungraceful mode.
      step.status =
        step.name === "fence-old-primary" && e.mode === "ungraceful" ? "skipped" : "running";
    } else {
      let ok = true;
      switch (step.name) {
        case "fence-old-primary":
          ok = !down(e.deactivate);
          if (ok) this.route53.fenced.add(leaving);
          break;
        case "promote-replica":
          ok = !down(e.activate);
          if (ok) this.aws.replicaOf[activating] = undefined;
          break;
        case "route-traffic":
          this.route53.regionSwitch[activating] = true;
          this.route53.regionSwitch[leaving] = false;
          break;
        case "post-check":
          ok =
            this.aws.replicaOf[activating] === undefined &&
            REGION_OF_SITE[activating] === e.activate;
          break;
      }
      if (step.name === this.failStep) {
        ok = false;
        this.failStep = undefined;
      }
      step.status = ok ? "completed" : "failed";
      if (!ok) e.state = "pausedByFailedStep";
    }
    this.onStep?.(step.name, step.status);
    this.answers.push({ step: step.name, status: step.status, answer: this.route53.answer() });
    if (e.steps.every((s) => s.status === "completed" || s.status === "skipped")) {
      e.state = "completed";
      e.endTime = new Date("2025-03-01T12:20:00.000Z");
    }
  }
}
