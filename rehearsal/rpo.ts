import { round } from "./report";
import type { Ack } from "./workload";

export interface Rpo {
  /** Acknowledged commits the promoted node does not have. */
  readonly commitsLost: number;
  /** The failure minus the newest acknowledged commit the promoted node has; 0 when none lost. */
  readonly seconds: number;
  /** The lost commits' acknowledgements, in seconds before the failure (first, last), or null. */
  readonly lostWindow: {
    from_seconds_before_crash: number;
    to_seconds_before_crash: number;
  } | null;
}

/**
 * The rehearsal's RPO from the workload's acknowledgements (in the order received) and the ids
 * the promoted node holds. Only the old primary's acknowledgements can be lost. Some arrive after
 * `crashedAt`: the SIGKILL lands a moment after that timestamp, and a reply the server sent just
 * before it is read after. The failure is therefore the later of the two: the kill, or the old
 * primary's last reply.
 */
export function rpoFromAcks(
  acks: readonly Ack[],
  have: ReadonlySet<number>,
  crashedAt: number,
  primary = "primary",
): Rpo {
  const fromPrimary = acks.filter((a) => a.node === primary);
  const failedAt = Math.max(crashedAt, ...fromPrimary.map((a) => a.at));
  const lost = fromPrimary.filter((a) => !have.has(a.id));
  const kept = fromPrimary.filter((a) => have.has(a.id)).map((a) => a.at);
  const lastKept = kept.length > 0 ? Math.max(...kept) : undefined;
  return {
    commitsLost: acks.filter((a) => !have.has(a.id)).length,
    seconds:
      lost.length === 0 || lastKept === undefined ? 0 : round((failedAt - lastKept) / 1000, 3),
    lostWindow:
      lost.length === 0
        ? null
        : {
            from_seconds_before_crash: round((failedAt - lost[0].at) / 1000, 3),
            to_seconds_before_crash: round((failedAt - lost[lost.length - 1].at) / 1000, 3),
          },
  };
}
