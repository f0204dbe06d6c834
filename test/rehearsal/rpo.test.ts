import { describe, expect, it } from "vitest";
import { rpoFromAcks } from "../../rehearsal/rpo";
import type { Ack } from "../../rehearsal/workload";

const ack = (id: number, node: string, at: number): Ack => ({ id, node, at });

describe("the rehearsal's RPO from acknowledgements", () => {
  it("nothing lost: 0 s and no window", () => {
    const acks = [ack(1, "primary", 100), ack(2, "primary", 200), ack(3, "standby", 900)];
    expect(rpoFromAcks(acks, new Set([1, 2, 3]), 250)).toEqual({
      commitsLost: 0,
      seconds: 0,
      lostWindow: null,
    });
  });

  it("the lost commits lie inside the RPO, measured from the kill", () => {
    const acks = [ack(1, "primary", 1000), ack(2, "primary", 1400), ack(3, "primary", 1700)];
    expect(rpoFromAcks(acks, new Set([1]), 2000)).toEqual({
      commitsLost: 2,
      seconds: 1,
      lostWindow: { from_seconds_before_crash: 0.6, to_seconds_before_crash: 0.3 },
    });
  });

  it("a reply read after the kill's timestamp counts as lost, and the failure is that reply", () => {
    // What failed the async rehearsal: commits lost, every one acknowledged after crashedAt, so a
    // count of only those acknowledged before it reported commits lost, RPO 0 s and no window.
    const acks = [ack(1, "primary", 1000), ack(2, "primary", 1500), ack(3, "primary", 2002)];
    const rpo = rpoFromAcks(acks, new Set([1, 2]), 2000);
    expect(rpo).toEqual({
      commitsLost: 1,
      seconds: 0.502,
      lostWindow: { from_seconds_before_crash: 0, to_seconds_before_crash: 0 },
    });
  });

  it("the promoted node's own acknowledgements never widen the window", () => {
    const acks = [ack(1, "primary", 1000), ack(2, "primary", 1800), ack(3, "standby", 5000)];
    expect(rpoFromAcks(acks, new Set([1, 3]), 2000).lostWindow).toEqual({
      from_seconds_before_crash: 0.2,
      to_seconds_before_crash: 0.2,
    });
  });
});
