import { formatSeconds, parseDurationSeconds } from "./duration";
import type { Clock } from "./ports";

/**
 * How long each kind of remote call may take before the run gives up on it (docs/architecture.md §2b:
 * every remote call on the failover path has a deadline). Set with `--deadline <name>=<duration>`.
 */
export const DEADLINE_DEFAULTS = {
  /** One Pulumi CLI call that reads or edits a stack: config, a preview. */
  stack: 60,
  /**
   * One `pulumi up` or targeted `pulumi refresh`. The reconcile's update sets Multi-AZ on the
   * promoted instance, which RDS applies while it stays available, and a failback's rebuild
   * creates a cross-region replica, which takes longer the larger the database
   * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Create.html).
   */
  up: 45 * 60,
  /** One SQL session on a database: connect, query, disconnect. */
  db: 10,
  /** One AWS API call (ARC Region switch, GetSecretValue, HeadBucket, ListObjectsV2, CreateJob). */
  aws: 10,
  /** One DNS resolution. */
  dns: 5,
} as const;

export type DeadlineName = keyof typeof DEADLINE_DEFAULTS;
export type Deadlines = Readonly<Record<DeadlineName, number>>;

const NAMES = Object.keys(DEADLINE_DEFAULTS) as DeadlineName[];

/** `--deadline up=30m --deadline db=5s` over the defaults; throws a message naming the bad one. */
export function parseDeadlines(specs: readonly string[]): Deadlines {
  const out: Record<DeadlineName, number> = { ...DEADLINE_DEFAULTS };
  for (const spec of specs) {
    const m = /^([a-z]+)=(.+)$/.exec(spec);
    const name = m?.[1] as DeadlineName | undefined;
    if (!m || !name || !NAMES.includes(name)) {
      throw new Error(
        `--deadline ${JSON.stringify(spec)}: expected <name>=<duration> with name one of ${NAMES.join(", ")}`,
      );
    }
    const seconds = parseDurationSeconds(m[2]);
    if (seconds === undefined || seconds <= 0) {
      throw new Error(
        `--deadline ${name}=${m[2]}: not a positive duration; expected e.g. 10s, 5m or 1h`,
      );
    }
    out[name] = seconds;
  }
  return out;
}

/** A call that did not answer in time. The call was aborted; nothing waits on it any longer. */
export class DeadlineExceeded extends Error {
  constructor(
    readonly what: string,
    readonly seconds: number,
  ) {
    super(`${what} did not answer within ${formatSeconds(seconds)} (deadline)`);
    this.name = "DeadlineExceeded";
  }
}

/**
 * Runs `call` with a signal that aborts after `seconds`, and stops waiting at that moment even if
 * the call ignores the signal (a hung socket, a CLI that does not exit): the run goes on and the
 * abandoned promise is left to settle on its own.
 */
export async function withDeadline<T>(
  clock: Clock,
  what: string,
  seconds: number,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const work = new AbortController();
  const timer = new AbortController();
  const pending = call(work.signal);
  // The abandoned call may still reject later; that is not an unhandled rejection of ours.
  pending.catch(() => undefined);
  const expired = clock.sleep(seconds * 1000, timer.signal).then(() => {
    if (timer.signal.aborted) return undefined as never;
    work.abort(new DeadlineExceeded(what, seconds));
    throw new DeadlineExceeded(what, seconds);
  });
  expired.catch(() => undefined);
  try {
    return await Promise.race([pending, expired]);
  } finally {
    timer.abort();
  }
}
