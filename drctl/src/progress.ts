import type { Writable } from "node:stream";
import { formatBytes } from "./duration";

export type DrctlEvent =
  | { event: "start"; op: string; id?: string; [k: string]: unknown }
  | {
      event: "progress";
      op: string;
      bytes: number;
      total?: number;
      rate: number;
      etaSeconds?: number;
    }
  | { event: "done"; op: string; bytes?: number; seconds: number; [k: string]: unknown }
  | { event: "error"; op: string; message: string }
  /** Database credentials came from a secret: the ARN and the PG* names set, never values. */
  | { event: "db-secret"; op: string; arn: string; applied: string[] };

export type EventSink = (e: DrctlEvent) => void;

/** How often a progress event is emitted when not on a terminal. */
const JSON_INTERVAL_MS = 5_000;
const TTY_INTERVAL_MS = 250;

/**
 * Progress for people and for log collectors: on a TTY one self-overwriting line on stderr; not on
 * a TTY one JSON object per line per event (start, progress every few seconds, done, error).
 */
export function eventSink(stderr: Writable, now: () => number = Date.now): EventSink {
  const tty = (stderr as Writable & { isTTY?: boolean }).isTTY === true;
  let last = 0;
  let lineOpen = false;
  return (e) => {
    if (e.event === "progress") {
      const t = now();
      if (t - last < (tty ? TTY_INTERVAL_MS : JSON_INTERVAL_MS)) return;
      last = t;
    }
    if (!tty) {
      stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
      return;
    }
    if (e.event === "progress") {
      const pct = e.total ? ` ${((100 * e.bytes) / e.total).toFixed(1)}%` : "";
      const eta = e.etaSeconds !== undefined ? ` ETA ${Math.ceil(e.etaSeconds)}s` : "";
      stderr.write(
        `\r${e.op}: ${formatBytes(e.bytes)}${pct} at ${formatBytes(e.rate)}/s${eta}\x1b[K`,
      );
      lineOpen = true;
      return;
    }
    if (lineOpen) stderr.write("\n");
    lineOpen = false;
    // On a terminal the error itself is printed once, as a plain line, by main.
    if (e.event === "done") {
      const size = e.bytes !== undefined ? ` ${formatBytes(e.bytes)}` : "";
      stderr.write(`${e.op} done:${size} in ${e.seconds.toFixed(1)}s\n`);
    }
  };
}

/** A Meter hands the sink at most this many progress events a second (the sink limits further). */
const METER_INTERVAL_MS = 250;

/**
 * Tracks bytes for one operation and emits progress events; the sink rate-limits them. `add` is
 * called per chunk (64 KiB from a pipe, thousands a second), so it only counts unless a quarter
 * second has passed: no event object, rate or ETA is built per chunk.
 */
export class Meter {
  private readonly started = Date.now();
  private lastEmit = 0;
  bytes = 0;
  constructor(
    private readonly op: string,
    private readonly sink: EventSink,
    private readonly total?: number,
  ) {}

  add(n: number): void {
    this.set(this.bytes + n);
  }

  /** Sets the byte count (e.g. from the size of a file a program is writing). */
  set(bytes: number): void {
    this.bytes = bytes;
    const now = Date.now();
    if (now - this.lastEmit < METER_INTERVAL_MS) return;
    this.lastEmit = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? this.bytes / seconds : 0;
    const etaSeconds =
      this.total !== undefined && rate > 0 ? (this.total - this.bytes) / rate : undefined;
    this.sink({
      event: "progress",
      op: this.op,
      bytes: this.bytes,
      total: this.total,
      rate,
      etaSeconds,
    });
  }

  get seconds(): number {
    return (Date.now() - this.started) / 1000;
  }
}

export const silentSink: EventSink = () => undefined;
