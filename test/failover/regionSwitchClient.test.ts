import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GetPlanExecutionCommand,
  ListPlanExecutionsCommand,
  ListPlansInRegionCommand,
  RegionSwitchClient,
  RegionSwitchServiceError,
  StartPlanExecutionCommand,
} from "../../drctl/src/failover/regionSwitch/client";

/**
 * The Region switch client on the wire, against a loopback HTTP server standing in for
 * `arc-region-switch.<region>.api.aws`: what it sends is what the service model the AWS SDK is
 * generated from says (awsJson1_0, X-Amz-Target `ArcRegionSwitch.<Operation>`, SigV4 with
 * signing name `arc-region-switch` in the client's Region), and it reads answers and errors as
 * the SDK does.
 */
interface Seen {
  readonly headers: IncomingMessage["headers"];
  readonly body: unknown;
}
let server: Server;
let endpoint: string;
const seen: Seen[] = [];
let answer: { status: number; body: unknown; headers?: Record<string, string> };

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(answer.status, {
        "content-type": "application/x-amz-json-1.0",
        ...answer.headers,
      });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const client = () =>
  new RegionSwitchClient({
    region: "us-west-2",
    endpoint,
    credentials: () =>
      Promise.resolve({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG" }),
  });

describe("RegionSwitchClient", () => {
  it("sends StartPlanExecution as awsJson1_0, signed for arc-region-switch in us-west-2", async () => {
    seen.length = 0;
    answer = {
      status: 200,
      body: {
        executionId: "us-west-2/0123456789abcdef",
        plan: "arn:aws:arc-region-switch::111122223333:plan/acme-dr-dr:a1b2c3",
        activateRegion: "us-west-2",
        deactivateRegion: "us-east-1",
      },
    };
    const input = {
      planArn: "arn:aws:arc-region-switch::111122223333:plan/acme-dr-dr:a1b2c3",
      targetRegion: "us-west-2",
      action: "activate" as const,
      mode: "ungraceful" as const,
    };
    const out = await client().send(new StartPlanExecutionCommand(input));

    expect(out.executionId).toBe("us-west-2/0123456789abcdef");
    expect(out.$metadata).toEqual({ httpStatusCode: 200 });
    expect(seen).toHaveLength(1);
    expect(seen[0].body).toEqual(input);
    expect(seen[0].headers["x-amz-target"]).toBe("ArcRegionSwitch.StartPlanExecution");
    expect(seen[0].headers["content-type"]).toBe("application/x-amz-json-1.0");
    expect(seen[0].headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-west-2\/arc-region-switch\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
  });

  it("reads GetPlanExecution's epoch-second timestamps as Dates, as the SDK does", async () => {
    answer = {
      status: 200,
      body: {
        planArn: "p",
        executionId: "e",
        startTime: 1740830400,
        mode: "ungraceful",
        executionState: "inProgress",
        executionAction: "activate",
        executionRegion: "us-west-2",
        stepStates: [{ name: "promote-replica", status: "running", startTime: 1740830460.5 }],
      },
    };
    const out = await client().send(
      new GetPlanExecutionCommand({ planArn: "p", executionId: "e" }),
    );
    expect(out.startTime).toEqual(new Date("2025-03-01T12:00:00.000Z"));
    expect(out.stepStates?.[0].startTime).toEqual(new Date("2025-03-01T12:01:00.500Z"));
  });

  it("throws the modelled exception by name, from __type or X-Amzn-ErrorType", async () => {
    answer = {
      status: 400,
      body: {
        __type: "com.amazonaws.arcregionswitch#IllegalStateException",
        message: "an execution is in progress",
      },
    };
    const err = await client()
      .send(
        new StartPlanExecutionCommand({
          planArn: "p",
          targetRegion: "us-west-2",
          action: "activate",
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegionSwitchServiceError);
    expect((err as Error).name).toBe("IllegalStateException");
    expect((err as Error).message).toBe("IllegalStateException: an execution is in progress");

    answer = {
      status: 404,
      body: { message: "no such plan" },
      headers: { "x-amzn-errortype": "ResourceNotFoundException:http://internal.amazon.com/" },
    };
    const notFound = await client()
      .send(new ListPlanExecutionsCommand({ planArn: "p" }))
      .catch((e: unknown) => e);
    expect((notFound as RegionSwitchServiceError).name).toBe("ResourceNotFoundException");
    expect((notFound as RegionSwitchServiceError).$metadata).toEqual({ httpStatusCode: 404 });
  });

  it("goes to the Region's own endpoint, https://arc-region-switch.<region>.api.aws, by default", () => {
    // The SDK's endpoint rules for every operation that is not control-plane
    // (aws-sdk-js-v3 clients/client-arc-region-switch/src/endpoint/ruleset.ts).
    const c = new RegionSwitchClient({ region: "us-west-2" });
    expect(c.config.region).toBe("us-west-2");
    expect(c.config.endpoint).toBe("https://arc-region-switch.us-west-2.api.aws/");
  });
});

/**
 * Every Region switch operation drctl calls during a failover is a data-plane operation, which
 * AWS serves in each Region, so the Region being activated runs it alone. Two sources:
 * - the table "Region switch API operations", column "Data plane API"
 *   (https://docs.aws.amazon.com/r53recovery/latest/dg/actions.region-switch.html): Yes for
 *   ApprovePlanExecutionStep, CancelPlanExecution, GetPlanEvaluationStatus, GetPlanExecution,
 *   GetPlanInRegion, ListPlanExecutionEvents, ListPlanExecutions; No for CreatePlan, DeletePlan,
 *   GetPlan, ListPlans (the rows as far as the copy read here goes);
 * - the SDK's endpoint model, for StartPlanExecution and ListPlansInRegion too: an operation that
 *   is control-plane carries `UseControlPlaneEndpoint: true` and goes to
 *   arc-region-switch-control-plane in us-east-1 (ListPlansCommand.ts does, for the table's "No"),
 *   while StartPlanExecutionCommand.ts, ListPlansInRegionCommand.ts and GetPlanExecutionCommand.ts
 *   carry only the common parameters: the Region's own endpoint (aws/aws-sdk-js-v3,
 *   clients/client-arc-region-switch/src/commands/).
 */
describe("the operations drctl calls", () => {
  const TABLE_YES = [
    "ApprovePlanExecutionStep",
    "CancelPlanExecution",
    "GetPlanEvaluationStatus",
    "GetPlanExecution",
    "GetPlanInRegion",
    "ListPlanExecutionEvents",
    "ListPlanExecutions",
  ];
  const SDK_REGIONAL = ["StartPlanExecution", "ListPlansInRegion", "GetPlanExecution"];
  const CONTROL_PLANE = ["CreatePlan", "DeletePlan", "GetPlan", "ListPlans"];

  it("are all data-plane operations: served in the Region being activated", async () => {
    answer = { status: 200, body: {} };
    seen.length = 0;
    const c = client();
    await c.send(new ListPlansInRegionCommand({}));
    await c.send(
      new StartPlanExecutionCommand({
        planArn: "p",
        targetRegion: "us-west-2",
        action: "activate",
      }),
    );
    await c.send(new GetPlanExecutionCommand({ planArn: "p", executionId: "e" }));
    await c.send(new ListPlanExecutionsCommand({ planArn: "p" }));
    const operations = seen.map((s) =>
      String(s.headers["x-amz-target"]).replace("ArcRegionSwitch.", ""),
    );
    expect(operations).toEqual([
      "ListPlansInRegion",
      "StartPlanExecution",
      "GetPlanExecution",
      "ListPlanExecutions",
    ]);
    expect(operations.filter((o) => !TABLE_YES.includes(o) && !SDK_REGIONAL.includes(o))).toEqual(
      [],
    );
    expect(operations.filter((o) => CONTROL_PLANE.includes(o))).toEqual([]);
  });
});
