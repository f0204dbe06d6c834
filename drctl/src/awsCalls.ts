import type * as Cw from "@aws-sdk/client-cloudwatch";
import type * as Rds from "@aws-sdk/client-rds";
import { DrctlError, explain } from "./errors";

/**
 * What every AWS call of drctl's jobs shares: a deadline, and a failure in words that says what to
 * do. The SDK modules themselves are loaded by each command on first use (start-up stays short).
 */

/** Each call gets this long: a black-holed endpoint must not hold a job to its deadline. */
export const AWS_CALL_TIMEOUT_MS = 20_000;

export const deadline = () => ({ abortSignal: AbortSignal.timeout(AWS_CALL_TIMEOUT_MS) });

/** `what` failed: access denied names `permission` to grant, a timeout the network path. */
export function awsError(err: unknown, what: string, permission: string): Error {
  const name = (err as { name?: string } | null)?.name;
  if (name === "AccessDeniedException" || name === "AccessDenied") {
    return new DrctlError(`${what}: access denied; grant ${permission} to the job's role`);
  }
  if (name === "TimeoutError" || name === "AbortError") {
    return new DrctlError(
      `${what}: no answer within ${AWS_CALL_TIMEOUT_MS / 1000}s; check the network path to the regional endpoint`,
    );
  }
  return explain(err, what);
}

/**
 * ModifyDBInstance with a new master password, applied at once: how a restored copy, which holds
 * its recovery point's passwords, is opened.
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
 */
export async function setRdsMasterPassword(
  rds: Rds.RDSClient,
  sdk: typeof Rds,
  identifier: string,
  password: string,
  what: string,
): Promise<void> {
  try {
    await rds.send(
      new sdk.ModifyDBInstanceCommand({
        DBInstanceIdentifier: identifier,
        MasterUserPassword: password,
        ApplyImmediately: true,
      }),
      deadline(),
    );
  } catch (err) {
    throw awsError(err, what, "rds:ModifyDBInstance");
  }
}

/** One PutMetricData of plain figures into `namespace`; the caller turns a failure into a warning. */
export async function putMetricFigures(
  cloudwatch: Cw.CloudWatchClient,
  sdk: typeof Cw,
  namespace: string,
  data: readonly { name: string; unit: string; value: number }[],
): Promise<void> {
  await cloudwatch.send(
    new sdk.PutMetricDataCommand({
      Namespace: namespace,
      MetricData: data.map((d) => ({
        MetricName: d.name,
        Unit: d.unit as Cw.StandardUnit,
        Value: d.value,
      })),
    }),
    deadline(),
  );
}
