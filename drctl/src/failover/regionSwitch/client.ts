import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Client, Command } from "@smithy/core/client";
import { HttpRequest } from "@smithy/core/protocols";
import { SignatureV4 } from "@smithy/signature-v4";
import type {
  AwsCredentialIdentityProvider,
  Handler,
  MetadataBearer,
  MiddlewareStack,
  RequestHandler,
  SourceData,
} from "@smithy/types";

/**
 * A small client for the ARC Region switch data plane. AWS publishes
 * @aws-sdk/client-arc-region-switch (aws/aws-sdk-js-v3, clients/client-arc-region-switch), but the
 * npm registry this project installs from answers 404 for it, so this file speaks the same wire
 * protocol with the libraries that SDK itself is built on: @smithy/core's Client and Command (so
 * aws-sdk-client-mock stubs it as it stubs any SDK client), @smithy/signature-v4 for SigV4 and
 * @aws-sdk/credential-provider-node for the default credential chain. Replace it with the SDK
 * client once the registry serves it; the request and response shapes below are the SDK's.
 *
 * Protocol, from the service model the SDK is generated from: awsJson1_0, target prefix
 * `ArcRegionSwitch` (StartPlanExecutionCommand's `.s("ArcRegionSwitch", "StartPlanExecution")`),
 * signing name `arc-region-switch`, and the Region's own endpoint
 * `https://arc-region-switch.<region>.api.aws` for every operation not marked control-plane
 * (src/endpoint/ruleset.ts: only `UseControlPlaneEndpoint` operations go to
 * `arc-region-switch-control-plane.us-east-1`). The operations used here are all data-plane:
 * https://docs.aws.amazon.com/r53recovery/latest/dg/actions.region-switch.html
 */

export type ExecutionMode = "graceful" | "ungraceful";
export type ExecutionAction = "activate" | "deactivate" | "postRecovery";
export type ExecutionState =
  | "inProgress"
  | "pausedByFailedStep"
  | "pausedByOperator"
  | "completed"
  | "completedWithExceptions"
  | "canceled"
  | "planExecutionTimedOut"
  | "pendingManualApproval"
  | "failed"
  | "pending"
  | "completedMonitoringApplicationHealth";
export type StepStatus =
  "notStarted" | "running" | "failed" | "completed" | "canceled" | "skipped" | "pendingApproval";

/** https://docs.aws.amazon.com/arc-region-switch/latest/api/API_AbbreviatedPlan.html */
export interface AbbreviatedPlan {
  readonly arn: string;
  readonly owner: string;
  readonly name: string;
  readonly regions: string[];
  readonly recoveryApproach: "activeActive" | "activePassive";
  readonly primaryRegion?: string;
  readonly version?: string;
  readonly executionRole?: string;
  /** The execution in progress, if any. */
  readonly activePlanExecution?: string;
  readonly recoveryTimeObjectiveMinutes?: number;
}

export interface ListPlansInRegionInput {
  readonly maxResults?: number;
  readonly nextToken?: string;
}
export interface ListPlansInRegionOutput extends MetadataBearer {
  readonly plans?: AbbreviatedPlan[];
  readonly nextToken?: string;
}

/** https://docs.aws.amazon.com/arc-region-switch/latest/api/API_StartPlanExecution.html */
export interface StartPlanExecutionInput {
  readonly planArn: string;
  readonly targetRegion: string;
  readonly action: ExecutionAction;
  readonly mode?: ExecutionMode;
  readonly comment?: string;
  readonly latestVersion?: string;
}
export interface StartPlanExecutionOutput extends MetadataBearer {
  readonly executionId?: string;
  readonly plan?: string;
  readonly planVersion?: string;
  readonly activateRegion?: string;
  readonly deactivateRegion?: string;
}

/** https://docs.aws.amazon.com/arc-region-switch/latest/api/API_StepState.html */
export interface StepState {
  readonly name?: string;
  readonly status?: StepStatus;
  readonly startTime?: Date;
  readonly endTime?: Date;
  readonly stepMode?: ExecutionMode;
}

/** https://docs.aws.amazon.com/arc-region-switch/latest/api/API_GetPlanExecution.html */
export interface GetPlanExecutionInput {
  readonly planArn: string;
  readonly executionId: string;
  readonly maxResults?: number;
  readonly nextToken?: string;
}
/** An execution as AbbreviatedExecution describes it, with its steps. */
export interface GetPlanExecutionOutput extends AbbreviatedExecution, MetadataBearer {
  readonly stepStates?: StepState[];
  readonly nextToken?: string;
}

/** https://docs.aws.amazon.com/arc-region-switch/latest/api/API_AbbreviatedExecution.html */
export interface AbbreviatedExecution {
  readonly planArn: string;
  readonly executionId: string;
  readonly startTime: Date;
  readonly endTime?: Date;
  readonly mode: ExecutionMode;
  readonly executionState: ExecutionState;
  readonly executionAction: ExecutionAction;
  readonly executionRegion: string;
}
export interface ListPlanExecutionsInput {
  readonly planArn: string;
  readonly maxResults?: number;
  readonly nextToken?: string;
  readonly state?: ExecutionState;
}
export interface ListPlanExecutionsOutput extends MetadataBearer {
  readonly items?: AbbreviatedExecution[];
  readonly nextToken?: string;
}

type Input =
  | ListPlansInRegionInput
  | StartPlanExecutionInput
  | GetPlanExecutionInput
  | ListPlanExecutionsInput;
type Output =
  | ListPlansInRegionOutput
  | StartPlanExecutionOutput
  | GetPlanExecutionOutput
  | ListPlanExecutionsOutput;

export interface RegionSwitchClientConfig {
  /** The Region whose data plane is called: the Region being activated. */
  readonly region: string;
  readonly credentials?: AwsCredentialIdentityProvider;
  /** Overrides `https://arc-region-switch.<region>.api.aws` (tests point it at loopback). */
  readonly endpoint?: string;
}

interface ResolvedConfig {
  readonly region: string;
  /** Where every command goes: the Region's data-plane endpoint unless overridden. */
  readonly endpoint: string;
  readonly requestHandler: RequestHandler<unknown, unknown, { abortSignal?: AbortSignal }>;
  readonly apiVersion: string;
  readonly call: (operation: string, input: object, signal?: AbortSignal) => Promise<unknown>;
}

/** The Checksum constructor SignatureV4 needs, over node:crypto. */
class Sha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined
      ? createHash("sha256")
      : createHmac("sha256", Buffer.from(this.secret as Uint8Array));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/** Timestamps arrive as epoch seconds in awsJson1_0; the SDK hands them out as Dates. */
const TIMESTAMPS = new Set(["startTime", "endTime", "updatedAt"]);
function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      TIMESTAMPS.has(k) && typeof v === "number" ? new Date(v * 1000) : revive(v),
    ]),
  );
}

/** An error as the SDK throws it: `name` is the modelled exception (IllegalStateException, …). */
export class RegionSwitchServiceError extends Error {
  constructor(
    name: string,
    message: string,
    readonly $metadata: { httpStatusCode: number },
  ) {
    super(message);
    this.name = name;
  }
}

const endpointOf = (c: RegionSwitchClientConfig): URL =>
  new URL(c.endpoint ?? `https://arc-region-switch.${c.region}.api.aws`);

function transport(c: RegionSwitchClientConfig): ResolvedConfig["call"] {
  const signer = new SignatureV4({
    service: "arc-region-switch",
    region: c.region,
    credentials: c.credentials ?? defaultProvider(),
    sha256: Sha256,
  });
  const endpoint = endpointOf(c);
  return async (operation, input, signal) => {
    const body = JSON.stringify(input);
    const unsigned = new HttpRequest({
      method: "POST",
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: endpoint.port ? Number(endpoint.port) : undefined,
      path: "/",
      headers: {
        host: endpoint.host,
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": `ArcRegionSwitch.${operation}`,
      },
      body,
    });
    const signed = await signer.sign(unsigned);
    const { status, text, errorType } = await post(endpoint, signed.headers, body, signal);
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (status >= 300) {
      // awsJson1_0 names the error in X-Amzn-ErrorType or the body's __type, maybe namespaced.
      const raw = errorType ?? (parsed.__type as string | undefined) ?? `HTTP${status}`;
      const name = raw.split(":")[0].split("#").pop() ?? raw;
      const message = (parsed.message ?? parsed.Message ?? text) as string;
      throw new RegionSwitchServiceError(name, `${name}: ${message}`, { httpStatusCode: status });
    }
    return { ...(revive(parsed) as object), $metadata: { httpStatusCode: status } };
  };
}

function post(
  endpoint: URL,
  headers: Record<string, string>,
  body: string,
  signal?: AbortSignal,
): Promise<{ status: number; text: string; errorType?: string }> {
  const send = endpoint.protocol === "http:" ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(endpoint, { method: "POST", headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString("utf8"),
          errorType: res.headers["x-amzn-errortype"] as string | undefined,
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

export class RegionSwitchClient extends Client<
  { abortSignal?: AbortSignal },
  Input,
  Output,
  ResolvedConfig
> {
  constructor(config: RegionSwitchClientConfig) {
    super({
      region: config.region,
      endpoint: endpointOf(config).toString(),
      // Unused: each command sends through `call`; the field is what smithy's Client expects.
      requestHandler: { handle: () => Promise.reject(new Error("not used")) },
      apiVersion: "2022-07-26",
      call: transport(config),
    });
  }
}

/** One operation: the input is sent as is, the output is the service's JSON with Dates revived. */
abstract class RegionSwitchCommand<I extends Input, O extends Output> extends Command<
  I,
  O,
  ResolvedConfig,
  Input,
  Output
> {
  protected abstract readonly operation: string;
  constructor(readonly input: I) {
    super();
  }
  resolveMiddleware(
    _stack: MiddlewareStack<Input, Output>,
    config: ResolvedConfig,
    options: { abortSignal?: AbortSignal } | undefined,
  ): Handler<I, O> {
    return async () => ({
      output: (await config.call(this.operation, this.input, options?.abortSignal)) as O,
      response: undefined,
    });
  }
}

export class ListPlansInRegionCommand extends RegionSwitchCommand<
  ListPlansInRegionInput,
  ListPlansInRegionOutput
> {
  protected readonly operation = "ListPlansInRegion";
}

export class StartPlanExecutionCommand extends RegionSwitchCommand<
  StartPlanExecutionInput,
  StartPlanExecutionOutput
> {
  protected readonly operation = "StartPlanExecution";
}

export class GetPlanExecutionCommand extends RegionSwitchCommand<
  GetPlanExecutionInput,
  GetPlanExecutionOutput
> {
  protected readonly operation = "GetPlanExecution";
}

export class ListPlanExecutionsCommand extends RegionSwitchCommand<
  ListPlanExecutionsInput,
  ListPlanExecutionsOutput
> {
  protected readonly operation = "ListPlanExecutions";
}
