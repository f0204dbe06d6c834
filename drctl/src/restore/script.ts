import { Writable } from "node:stream";

/**
 * The script `pg_restore --single-transaction -f -` writes, and the one change drctl makes to it.
 *
 * With --single-transaction pg_restore wraps everything it emits in one `BEGIN;` … `COMMIT;`
 * and, unlike without it, does not wrap large-object data in a transaction of its own
 * (https://www.postgresql.org/docs/current/app-pgrestore.html, -1: "wrap the emitted commands in
 * BEGIN/COMMIT"; pg_backup_archiver.c StartRestoreLOs/EndRestoreLOs issue BEGIN/COMMIT only
 * `if (!ropt->single_txn)`). Its script thus ends with that COMMIT, then only comment lines and,
 * since 15.14/16.10, the `\unrestrict KEY` line that closes the `\restrict KEY` it starts with.
 * drctl holds that end back, removes the COMMIT and sends its own checks and COMMIT after it:
 * the row counts are checked inside the restore's transaction.
 */

/** Bytes held back: the script's end is the COMMIT and a few comment lines. */
export const HELD_BYTES = 64 * 1024;

/**
 * Writes what it is given on to `dest` (psql's stdin) except the last `held` bytes, which
 * `tail()` returns once the input ended. It writes to `dest` itself, in order and with its
 * backpressure, so that once `flushed` resolved whatever drctl writes next comes after the script.
 * When `dest` closed (psql exited) the rest is dropped: the caller stops pg_restore.
 */
export class TailHold extends Writable {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private destClosed = false;
  private resolveFlushed: () => void = () => undefined;
  /** Resolves once the input ended and everything but the tail was written to `dest`. */
  readonly flushed = new Promise<void>((resolve) => (this.resolveFlushed = resolve));

  constructor(
    private readonly dest: Writable,
    private readonly held = HELD_BYTES,
  ) {
    super({ highWaterMark: 1 << 20 });
    dest.on("error", () => (this.destClosed = true));
    dest.once("close", () => (this.destClosed = true));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const all = Buffer.concat([this.buffered, chunk]);
    if (all.length <= this.held) {
      this.buffered = all;
      return cb();
    }
    this.buffered = Buffer.from(all.subarray(all.length - this.held));
    if (this.destClosed) return cb();
    if (this.dest.write(all.subarray(0, all.length - this.held))) return cb();
    const go = (): void => {
      this.dest.off("drain", go);
      this.dest.off("close", go);
      cb();
    };
    this.dest.once("drain", go);
    this.dest.once("close", go);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.ended = true;
    cb();
    this.resolveFlushed();
  }

  /** The held-back end of the stream; only once the stream ended. */
  tail(): string {
    if (!this.ended) throw new Error("TailHold: stream not finished");
    return this.buffered.toString("utf8");
  }
}

/**
 * The script's end without its final COMMIT, or undefined when it does not end as pg_restore
 * --single-transaction ends it (then drctl commits nothing). After the COMMIT only blank lines,
 * `--` comments and `\unrestrict` may follow.
 */
export function withoutFinalCommit(tail: string): string | undefined {
  const marker = "\nCOMMIT;\n";
  const at = tail.lastIndexOf(marker);
  if (at === -1) return undefined;
  const after = tail.slice(at + marker.length);
  if (!/^(?:\n|--[^\n]*\n|\\unrestrict [^\n]*\n)*$/.test(after)) return undefined;
  return tail.slice(0, at + 1) + after;
}

/**
 * What drctl sends before the archive's script: its own BEGIN (pg_restore's BEGIN then only warns
 * "there is already a transaction in progress", which client_min_messages = error keeps out of
 * drctl's error line), the transaction's id and backend pid on a line
 * drctl reads from psql's output (asked again on a new connection with txid_status once psql
 * ended), then `sql` (roles to create, constraints to set aside). It must come before the script:
 * after `\restrict` psql runs no meta-command but `\unrestrict`.
 */
export function prologue(sql: string): string {
  return (
    "begin;\nset local client_min_messages = error;\n" +
    `select 'drctl-txid ' || txid_current() || ' ' || pg_backend_pid();\n${sql}\n`
  );
}

/** Reads the line prologue() makes psql print. */
export function parseTxidLine(line: string): { txid: string; pid: number } | undefined {
  const m = /^drctl-txid (\d+) (\d+)$/.exec(line.trim());
  return m ? { txid: m[1], pid: Number(m[2]) } : undefined;
}
