import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { fenceDatabase } from "./fenceSql";
import { type Bounds, connect, type DbTarget, messageOf, targetFromEnv } from "./connect";

/**
 * The plan's fence step: the function of the region being deactivated makes its own database
 * read-only for new sessions and ends the open ones, if the database answers (the SQL is drctl's,
 * components/regionSwitch/lambdas/fenceSql.ts). Best effort and bounded: a database that does not answer within
 * the bounds is reported, not waited for, and the step still succeeds, so the promotion that
 * follows never waits on the region being left.
 */

export interface FenceReport {
  readonly fenced: boolean;
  /** Sessions of other users ended. */
  readonly terminated?: number;
  /** The old primary's WAL position once fenced. */
  readonly lsn?: string;
  /** Why the fence did not happen (unreachable, refused, a replica). */
  readonly reason?: string;
  readonly elapsedMs: number;
}

/** What the function allows itself: well inside the function's own timeout (functions.ts). */
export const FENCE_BOUNDS: Bounds = { connectMs: 5_000, statementMs: 5_000 };

export async function fence(
  target: DbTarget,
  bounds: Bounds = FENCE_BOUNDS,
  tls = true,
): Promise<FenceReport> {
  const started = Date.now();
  const elapsedMs = () => Date.now() - started;
  let client;
  try {
    client = await connect(target, bounds, tls);
  } catch (e) {
    return {
      fenced: false,
      reason: `database did not answer: ${messageOf(e)}`,
      elapsedMs: elapsedMs(),
    };
  }
  try {
    const result = await fenceDatabase(client, target.database);
    return { fenced: true, terminated: result.terminated, lsn: result.lsn, elapsedMs: elapsedMs() };
  } catch (e) {
    return { fenced: false, reason: `fence refused: ${messageOf(e)}`, elapsedMs: elapsedMs() };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The Lambda entry point (bundled as index.handler). The event carries nothing it needs. */
export async function handler(): Promise<FenceReport> {
  const started = Date.now();
  try {
    const secrets = new SecretsManagerClient({});
    const target = await targetFromEnv(process.env, secrets, FENCE_BOUNDS.connectMs);
    return await fence(target);
  } catch (e) {
    return {
      fenced: false,
      reason: `could not read the database login: ${messageOf(e)}`,
      elapsedMs: Date.now() - started,
    };
  }
}
