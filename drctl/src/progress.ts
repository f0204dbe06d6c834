import type { Writable } from "node:stream";
import type { Client } from "pg";
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
      /** Bytes of the database dumped so far, estimated (backup): with `total`, the percentage. */
      done?: number;
    }
  /** The last event of `backup --json`: what was committed. */
  | { event: "summary"; op: string; [k: string]: unknown }
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
export function eventSink(stderr: Writable, now: () => number = Date.now, json = false): EventSink {
  // --json asks for the JSON events even on a terminal.
  const tty = !json && (stderr as Writable & { isTTY?: boolean }).isTTY === true;
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
      const pct = e.total ? ` ${((100 * (e.done ?? e.bytes)) / e.total).toFixed(1)}%` : "";
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
    /** Progress measured elsewhere than in bytes passing here (a backup's database bytes). */
    private readonly estimate?: () => DumpEstimate | undefined,
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
    const est = this.estimate?.();
    if (est) {
      // The ETA from the database bytes dumped so far and the rate they were dumped at.
      const perSecond = seconds > 0 ? est.done / seconds : 0;
      this.sink({
        event: "progress",
        op: this.op,
        bytes: this.bytes,
        done: est.done,
        total: est.total,
        rate,
        etaSeconds: perSecond > 0 ? (est.total - est.done) / perSecond : undefined,
      });
      return;
    }
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

export interface DumpEstimate {
  /** Bytes of the tables pg_dump has copied out, estimated. */
  readonly done: number;
  /** Bytes of every table it dumps (heap and TOAST, without indexes). */
  readonly total: number;
}

/**
 * How far a pg_dump is through the database, from the server's side: pg_dump's data is COPY TO,
 * which PostgreSQL 14+ reports in pg_stat_progress_copy (relid, bytes_processed per backend;
 * https://www.postgresql.org/docs/current/progress-reporting.html#COPY-PROGRESS-REPORTING). A
 * table that was being copied and no longer is counts with its whole size; the one being copied
 * with what it sent so far, at most its size. Tables copied between two polls are missed until
 * the end: an estimate, for a percentage and an ETA. The backends are found by the
 * application_name pg_dump was started with (PGAPPNAME). Polls on its own connection: the
 * activity views are read once per transaction, and the dump's transaction holds its snapshot.
 */
export class CopyProgress {
  private finished = 0;
  private current = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  readonly total: number;

  constructor(
    private readonly client: Client,
    private readonly appName: string,
    /** Table oid (as text) → bytes. */
    private readonly sizes: ReadonlyMap<string, number>,
  ) {
    this.total = [...sizes.values()].reduce((a, b) => a + b, 0);
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => void this.poll(), intervalMs);
  }

  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const { rows } = await this.client.query<{ relid: string; bytes: string }>(
        `select p.relid::text as relid, p.bytes_processed::text as bytes
         from pg_stat_progress_copy p join pg_stat_activity a on a.pid = p.pid
         where a.application_name = $1`,
        [this.appName],
      );
      const now = new Map(rows.map((r) => [r.relid, Number(r.bytes)]));
      for (const relid of this.current.keys()) {
        if (!now.has(relid)) this.finished += this.sizes.get(relid) ?? 0;
      }
      this.current = now;
    } catch {
      // A server before 14 has no pg_stat_progress_copy: no estimate, the backup goes on.
      this.stopTimer();
    } finally {
      this.polling = false;
    }
  }

  estimate(): DumpEstimate | undefined {
    if (this.total === 0) return undefined;
    let done = this.finished;
    for (const [relid, bytes] of this.current) done += Math.min(bytes, this.sizes.get(relid) ?? 0);
    return { done: Math.min(done, this.total), total: this.total };
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async stop(): Promise<void> {
    this.stopTimer();
    await this.client.end().catch(() => undefined);
  }
}
