import { describe, expect, it } from "vitest";
import {
  DEADLINE_DEFAULTS,
  DeadlineExceeded,
  parseDeadlines,
  withDeadline,
} from "../../drctl/src/failover/deadlines";
import { systemClock } from "../../drctl/src/failover/ports";

describe("withDeadline on the real clock", () => {
  it("gives up on a call that never settles, aborts its signal, and does not wait longer", async () => {
    let seen: AbortSignal | undefined;
    const t0 = Date.now();
    const err = await withDeadline(systemClock, "us-east-1 CloudWatch", 0.05, (signal) => {
      seen = signal;
      return new Promise<never>(() => undefined);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceeded);
    expect((err as Error).message).toBe(
      "us-east-1 CloudWatch did not answer within 0.1s (deadline)",
    );
    expect(seen?.aborted).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("returns what a prompt call returns, and passes its rejection through unchanged", async () => {
    await expect(withDeadline(systemClock, "x", 5, () => Promise.resolve(42))).resolves.toBe(42);
    await expect(
      withDeadline(systemClock, "x", 5, () => Promise.reject(new Error("503 ServiceUnavailable"))),
    ).rejects.toThrow("503 ServiceUnavailable");
  });
});

describe("--deadline", () => {
  it("keeps the defaults and overrides only what is named", () => {
    expect(parseDeadlines([])).toEqual(DEADLINE_DEFAULTS);
    expect(parseDeadlines(["up=30m", "db=2.5s"])).toEqual({
      ...DEADLINE_DEFAULTS,
      up: 1800,
      db: 2.5,
    });
  });

  it("names the bad one", () => {
    expect(() => parseDeadlines(["db=0s"])).toThrow(
      "--deadline db=0s: not a positive duration; expected e.g. 10s, 5m or 1h",
    );
    expect(() => parseDeadlines(["db"])).toThrow('--deadline "db": expected <name>=<duration>');
  });
});
