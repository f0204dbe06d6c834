import { Transform, type TransformCallback } from "node:stream";
import type { CountKind } from "./archiveRows";
import {
  STREAM_BATCH_BYTES as BATCH_BYTES,
  hashStream,
  type FileHash,
  type StreamJob,
} from "./hashPool";

/**
 * Passes bytes through in 1 MiB batches while a hash worker (hashPool.ts) computes their SHA-256
 * and, with `count`, their row counts. What a program's pipe delivers, a few KiB per read
 * (pg_dump writes its archive through stdio in 4 KiB pieces), is gathered first: one write to the
 * store and one message to the worker per MiB instead of one per read. This thread copies each
 * byte twice (into the batch, and into the worker's shared slot), never hashes it.
 *
 * Like HashGate (postgres/tools.ts), its flush waits for `gate` — given the worker's result, and
 * resolving once the programs upstream exited 0 and what depends on them succeeded — so the
 * stream only ends cleanly, and the store only commits the object, when they did.
 */
export class OffThreadGate extends Transform {
  bytes = 0;
  private result: FileHash | undefined;
  private readonly job: StreamJob;
  private batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
  private used = 0;

  constructor(
    private readonly gate: (result: FileHash) => Promise<void>,
    options: { count?: CountKind; onBytes?: (n: number) => void } = {},
  ) {
    super({ highWaterMark: 1 << 20 });
    this.job = hashStream({ hash: true, count: options.count });
    this.onBytes = options.onBytes ?? (() => undefined);
  }

  private readonly onBytes: (n: number) => void;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let p = 0;
    let waits: Promise<void> | undefined;
    while (p < chunk.length) {
      const n = Math.min(chunk.length - p, BATCH_BYTES - this.used);
      chunk.copy(this.batch, this.used, p, p + n);
      this.used += n;
      p += n;
      if (this.used === BATCH_BYTES) waits = this.handOn();
    }
    this.bytes += chunk.length;
    this.onBytes(chunk.length);
    if (!waits) return cb();
    waits.then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    const last = this.used > 0 ? this.handOn() : Promise.resolve();
    last
      .then(() => this.job.end())
      .then(async (result) => {
        await this.gate(result);
        this.result = result;
        cb();
      })
      .catch((err: Error) => cb(err));
  }

  /** A failed or abandoned stream still ends its job, so the worker is free (and unref'd) again. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.result === undefined) this.job.end().catch(() => undefined);
    cb(err);
  }

  /** Sends the current batch downstream and to the worker, and starts a new one. */
  private handOn(): Promise<void> {
    const full = this.batch.subarray(0, this.used);
    this.push(full);
    // The store reads `full` as it is; a new batch takes the next bytes, so it never changes.
    const pushed = this.job.push(full);
    this.batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
    this.used = 0;
    return pushed;
  }

  /** The hex SHA-256 of everything that passed, available once the stream finished. */
  sha256(): string {
    if (this.result === undefined) throw new Error("OffThreadGate: stream not finished");
    return this.result.sha256;
  }
}
